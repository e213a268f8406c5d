/** Types of scripts/fetch-temporal-server.mjs (for the tests that import it). */
export declare const TEMPORAL_SERVER_VERSION: string;

export declare class TemporalServerBuildError extends Error {}

export interface TemporalServerBinaries {
  version: string;
  /** .tools/temporal-server/<version> */
  dir: string;
  server: string;
  sqlTool: string;
  /** False when both binaries were already there. */
  built: boolean;
  /** How long this call took (the build when `built`). */
  seconds: number;
}

/** The pinned server's binaries, built with `go install` when missing; throws TemporalServerBuildError (one line) when that fails. */
export declare function ensureTemporalServer(opts?: { log?: (line: string) => void; toolsDir?: string }): TemporalServerBinaries;
