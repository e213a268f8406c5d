/**
 * The scaled-out deployment's shape, in one place: `docker-compose.yml` (checked by
 * test/compose.test.ts) and the process-level topology test (test/topology.test.ts) both assert
 * against it, so what the compose file describes is what the tests run.
 *
 * Roles (src/app/runtime/dev.ts): a gateway replica runs the MCP front door and its pipeline and
 * starts runs; a worker replica runs the steps; both join one Temporal cluster and share one
 * PostgreSQL for the state replicas must agree on.
 */
export const TOPOLOGY = {
  /** `skillgate gateway` replicas behind the load balancer. */
  gateways: 2,
  /** `skillgate worker` replicas polling the task queue. */
  workers: 2,
  /** The compose services, by role (gateway-1, gateway-2, worker-1, worker-2). */
  gatewayServices: ['gateway-1', 'gateway-2'],
  workerServices: ['worker-1', 'worker-2'],
  /** The CLI command of each role (`skillgate <command>`). */
  commands: { gateway: 'gateway', worker: 'worker' },
  /** The Temporal frontend every replica joins (TEMPORAL_ADDRESS). */
  temporalAddress: 'temporal:7233',
  /** Port a gateway replica listens on (SKILLGATE_PORT), on SKILLGATE_HOST 0.0.0.0 in a container. */
  gatewayPort: 8787,
  /** `storage.kind` of the replicas' workspace config (src/config/schema.ts): shared state in PostgreSQL. */
  storageKind: 'postgres',
  /** The load balancer: the only service reachable from outside. */
  loadBalancer: 'lb',
} as const;
