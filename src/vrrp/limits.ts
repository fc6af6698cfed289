// The numbers the VRRP rules (vrrp/config.ts) enforce, in a module of their own so that
// the config schema can mirror them for editors (config/schema.json) without importing
// the rules themselves.

/**
 * keepalived.conf(5) (2.2.7), vrrp_instance: track_interface and track_script weights are
 * <-253..253>, so that priority 1..254 plus or minus one weight stays a valid priority.
 * keepalived takes ±254 for track_file and track_process; failoverd holds every kind to
 * ±253 (the importer refuses 254 at its file:line rather than change it).
 */
export const TRACK_WEIGHT_MAX = 253;
