// The numbers the VRRP rules (vrrp/config.ts) enforce, in a module of their own so that
// the config schema can mirror them for editors (config/schema.json) without importing
// the rules themselves.

/**
 * keepalived.conf(5) (2.2.7), vrrp_instance: track_interface and track_script weights are
 * <-253..253>, so that priority 1..254 plus or minus one weight stays a valid priority.
 * (track_file and track_process take ±254; failoverd's YAML has neither.)
 */
export const TRACK_WEIGHT_MAX = 253;
