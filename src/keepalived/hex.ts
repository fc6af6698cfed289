// keepalived's HEX_STR (UDP_CHECK payload and require_reply) and what its reply check
// means, as a regular expression over the reply's bytes read as latin1 text (the form
// failoverd's udp check matches `expect` against).

/** One octet of a HEX_STR; `wild` has the bits of its X nibbles set. */
export interface HexOctet {
  value: number;
  wild: number;
}

/**
 * keepalived's read_hex_str (lib/parser.c): spaces and tabs separate; two digits make an
 * octet, a digit alone before a space or the end makes one too ("Ab12f 3" is AB 12 0F 03);
 * X stands for any nibble where wildcards are allowed. Undefined when keepalived would refuse it.
 */
export function readHexStr(text: string, allowWildcard: boolean): HexOctet[] | undefined {
  const nibble = (c: string | undefined): { value: number; wild: boolean } | undefined => {
    if (c === undefined) return undefined;
    if (/^[0-9a-fA-F]$/.test(c)) return { value: parseInt(c, 16), wild: false };
    if (allowWildcard && (c === 'x' || c === 'X')) return { value: 0, wild: true };
    return undefined;
  };
  const octets: HexOctet[] = [];
  let i = 0;
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    const high = nibble(text[i++]);
    if (!high) return undefined;
    let octet: HexOctet = { value: high.value, wild: high.wild ? 0x0f : 0 };
    if (i < text.length && text[i] !== ' ') {
      const low = nibble(text[i++]);
      if (!low) return undefined;
      octet = { value: (high.value << 4) | low.value, wild: (high.wild ? 0xf0 : 0) | (low.wild ? 0x0f : 0) };
    }
    octets.push(octet);
  }
  return octets.length ? octets : undefined;
}

export const hexOf = (octets: readonly HexOctet[]): string => octets.map((o) => o.value.toString(16).padStart(2, '0')).join('');

const byte = (n: number): string => `\\x${n.toString(16).padStart(2, '0')}`;

function octetPattern(o: HexOctet): string {
  if (o.wild === 0xff) return '[\\s\\S]';
  if (o.wild === 0) return byte(o.value);
  const fixed = o.value & ~o.wild & 0xff;
  const all: string[] = [];
  for (let n = 0; n < 256; n++) if ((n & ~o.wild & 0xff) === fixed) all.push(byte(n));
  return `[${all.join('')}]`;
}

/**
 * keepalived's check_udp_reply (check/check_udp.c): the reply's length lies in
 * [min, max], and its first min(length, octets) bytes equal the octets (X nibbles
 * ignored). A reply shorter than the octets passes when what it has matches.
 */
export function udpReplyPattern(octets: readonly HexOctet[], minLength: number, maxLength: number): string {
  let prefix = '';
  for (let i = octets.length - 1; i >= 0; i--) prefix = `(?:$|${octetPattern(octets[i]!)}${prefix})`;
  return `^(?=[\\s\\S]{${minLength},${maxLength}}$)${prefix}`;
}

/** The payload keepalived sends when UDP_CHECK has none (core/layer4.c set_buf over UDP_BUFSIZE 32). */
export function keepalivedDefaultPayload(length = 32): string {
  const text = 'keepalived check - ';
  return Buffer.from(text.repeat(Math.ceil(length / text.length)).slice(0, length), 'latin1').toString('hex');
}
