// Turns the client's stream of request samples into a few timeline lines: the
// first failure after a clean stretch, a digest per second while failures go on
// (instead of one line per request), and "answered again" after a silence.
import { describeErrors, describeServers } from './analysis.js';
import type { RequestSample } from './samples.js';

export type Say = (text: string, at: number) => void;

export class ClientNarration {
  private lastAnswerAt = 0;
  private failedSinceAnswer = 0;
  private window: { from: number; answers: Record<string, number>; errors: Record<string, number>; failed: number } | undefined;

  constructor(
    private readonly say: Say,
    private readonly silenceMs: number,
    private readonly windowMs = 1000,
  ) {}

  add(s: RequestSample): void {
    if (s.ok) {
      if (this.lastAnswerAt > 0 && s.done - this.lastAnswerAt > this.silenceMs) {
        const failed = this.failedSinceAnswer ? `; ${this.failedSinceAnswer} requests failed meanwhile` : '';
        this.say(
          `answered again (by ${s.who}) after ${((s.done - this.lastAnswerAt) / 1000).toFixed(3)} s without an answer${failed}`,
          s.done,
        );
      }
      this.lastAnswerAt = Math.max(this.lastAnswerAt, s.done);
      this.failedSinceAnswer = 0;
      if (this.window) this.window.answers[s.who ?? '?'] = (this.window.answers[s.who ?? '?'] ?? 0) + 1;
      return;
    }
    this.failedSinceAnswer++;
    const why = s.error ?? 'error';
    if (!this.window) {
      this.say(`request failed: ${why}`, s.done);
      this.window = { from: s.done, answers: {}, errors: {}, failed: 0 };
      return;
    }
    this.window.errors[why] = (this.window.errors[why] ?? 0) + 1;
    this.window.failed++;
  }

  /** Call often: closes a digest window once it is windowMs old. */
  tick(now: number): void {
    const w = this.window;
    if (!w || now - w.from < this.windowMs) return;
    const answered = Object.values(w.answers).reduce((a, b) => a + b, 0);
    if (w.failed > 0) {
      this.say(
        `next ${((now - w.from) / 1000).toFixed(1)} s: ${w.failed} more failed (${describeErrors(w.errors)}), ${answered} answered${answered ? ` (${describeServers(w.answers)})` : ''}`,
        now,
      );
      this.window = { from: now, answers: {}, errors: {}, failed: 0 };
    } else {
      this.window = undefined;
    }
  }
}
