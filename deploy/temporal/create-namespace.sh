#!/bin/sh
# One-shot (service temporal-namespace): waits for the frontend in TEMPORAL_ADDRESS, then
# registers NAMESPACE and Skillgate's search attributes (SEARCH_ATTRIBUTES, Keyword) unless they
# exist. Skillgate registers missing ones at start too; here they are in place (and in the
# server's cache) before the first replica starts a run. Safe to run again.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "Temporal at $TEMPORAL_ADDRESS is not serving after 60 tries" >&2; exit 1; fi
  sleep 2
done
if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention "${RETENTION:-720h}"
fi
for name in $SEARCH_ATTRIBUTES; do
  if ! temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" | grep -qw "$name"; then
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --name "$name" --type Keyword
  fi
done
