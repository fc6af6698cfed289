/** The i-th bench real server: 127.20.x.y (all of 127/8 is local on Linux). */
export function fleetAddress(i: number): string {
  return `127.20.${(i >> 8) & 255}.${i & 255}`;
}
