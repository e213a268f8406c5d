/**
 * The two identities every request carries, kept apart end to end (PRODUCT.md "Principal").
 * Plain JSON: a skill run captures the principal at start and pins it in its workflow input.
 */
export interface Principal {
  /** The human the agent acts for (token `sub`, roles/groups from IdP claims). */
  user: {
    id: string;
    roles: string[];
    groups: string[];
    /** Per-user settings from `users.<id>.attributes` (e.g. `mailbox: gmail`); skills read them as `user.attributes.<key>`. */
    attributes?: { [key: string]: string };
  };
  /** The agent: the OAuth client (`azp` / `client_id`) registered in skillgate.yaml. */
  agent: { id: string };
}
