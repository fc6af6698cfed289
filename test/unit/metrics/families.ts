/** Every family failoverd exposes; the unit and netns scrapes check each is present. */
export const EXPECTED_FAMILIES = [
  'failoverd_vrrp_state', 'failoverd_vrrp_priority', 'failoverd_vrrp_transitions_total',
  'failoverd_vrrp_adverts_sent_total', 'failoverd_vrrp_adverts_received_total', 'failoverd_vrrp_adverts_dropped_total', 'failoverd_vrrp_advert_address_mismatch_total',
  'failoverd_check_results_total', 'failoverd_check_latency_seconds',
  'failoverd_realserver_up', 'failoverd_realserver_weight', 'failoverd_realserver_transitions_total',
  'failoverd_ipvs_connections_total', 'failoverd_ipvs_packets_in_total', 'failoverd_ipvs_packets_out_total',
  'failoverd_ipvs_bytes_in_total', 'failoverd_ipvs_bytes_out_total', 'failoverd_ipvs_active_connections',
  'failoverd_webhook_deliveries_total', 'failoverd_webhook_failures_total', 'failoverd_webhook_attempt_failures_total',
  'failoverd_webhook_dropped_total', 'failoverd_webhook_queue_depth',
  'failoverd_notify_runs_total', 'failoverd_notify_failures_total',
  'failoverd_schedule_active', 'failoverd_events_total', 'failoverd_config_reloads_total', 'failoverd_quorum_lost_total',
  'nodejs_eventloop_lag_seconds', 'process_cpu_seconds_total',
];
