// When an advert arrived, on the agent's monotonic clock. RFC 5798 restarts a backup's
// Master_Down_Timer when it receives an advert; an advert the agent reads late (its
// event loop busy with other work, a garbage collection) must not push the takeover
// back by that delay, so the time comes from the kernel's receive stamp
// (SO_TIMESTAMPNS, transport.ts) rather than from when the advert was read.
//
// The stamp is on the wall clock: a step of that clock between the stamp and the read
// would give a wrong age. So the age counts only up to one advert interval (a step
// can then bring a takeover forward by at most one interval, and never to within two
// intervals of the read), a negative one counts as none, and an advert never arrives
// before the event the instance handled last.

/**
 * `now` less the advert's age, the age held to [0, `maxAgeMs`], and not before
 * `notBefore`.
 */
export function arrivalTime(now: number, ageMs: number | undefined, maxAgeMs: number, notBefore: number): number {
  const age = Number.isFinite(ageMs) ? Math.min(Math.max(ageMs!, 0), maxAgeMs) : 0;
  return Math.max(now - age, Math.min(notBefore, now));
}
