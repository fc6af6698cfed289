// SMTP replies out of a byte stream (RFC 5321 4.2): lines "250-..." continue a
// reply, "250 ..." ends it. Pure; the smtp check feeds it what the socket reads.

export interface SmtpReply {
  code: number;
  /** Each line's text after the code and separator. */
  lines: string[];
}

/** A line longer than this (RFC 5321 allows 512) means the peer is not speaking SMTP. */
const MAX_LINE = 4096;
/** A reply with more lines than this is not one a check needs to read. */
const MAX_LINES = 100;

export class SmtpReplyReader {
  private pending = '';
  private lines: string[] = [];
  private code = 0;

  /** The replies completed by this chunk; throws on text that is not an SMTP reply. */
  feed(chunk: Buffer | string): SmtpReply[] {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const done: SmtpReply[] = [];
    for (;;) {
      const end = this.pending.indexOf('\n');
      if (end < 0) break;
      const line = this.pending.slice(0, end).replace(/\r$/, '');
      this.pending = this.pending.slice(end + 1);
      const m = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (!m) throw new Error(`not an SMTP reply line: ${JSON.stringify(line.slice(0, 60))}`);
      const code = Number(m[1]);
      if (this.lines.length > 0 && code !== this.code) throw new Error(`reply line ${code} inside a ${this.code} reply`);
      this.code = code;
      this.lines.push(m[3]!);
      if (this.lines.length > MAX_LINES) throw new Error(`a reply of more than ${MAX_LINES} lines`);
      if (m[2] !== '-') {
        done.push({ code, lines: this.lines });
        this.lines = [];
      }
    }
    if (this.pending.length > MAX_LINE) throw new Error(`a reply line longer than ${MAX_LINE} bytes`);
    return done;
  }
}

/** Whether an EHLO reply lists the extension (its first line is the greeting, not an extension). */
export function hasExtension(ehlo: SmtpReply, keyword: string): boolean {
  return ehlo.lines.slice(1).some((l) => l.split(/\s+/)[0]!.toUpperCase() === keyword.toUpperCase());
}
