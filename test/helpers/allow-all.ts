import type { Authorizer } from '../../gateway/authz/authorizer.js';
import type { DataLossFilters } from '../../gateway/dlp/filters.js';
import { NO_RULES } from '../../gateway/dlp/rules.js';
import { silentLogger } from '../../gateway/log.js';

/**
 * The AND-gate replaced by "allow everything", for interpreter tests that are not about
 * authorization. Said explicitly: the activities cannot be built without an authorizer.
 */
export const ALLOW_ALL: Authorizer = { check() {}, admit() {}, canList: () => true };

/**
 * No data-loss rules on any gateway, for interpreter tests whose runs name gateways the test
 * config need not define. Said explicitly: the pipeline cannot be built without filters.
 */
export const NO_DATA_LOSS: DataLossFilters = { rulesFor: () => NO_RULES, log: silentLogger };
