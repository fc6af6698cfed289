// Where the lateness bench's loopback real servers listen.
export const FLEET_PORT = 7000;

/** The i-th server: 127.21.x.y (all of 127/8 is local on Linux). */
export function fleetAddress(i: number): string {
  return `127.21.${(i >> 8) & 255}.${i & 255}`;
}
