#!/bin/sh
# One-shot, once the Temporal server is up (compose service `temporal-setup`, image
# temporalio/admin-tools): create the namespace the app uses and register the custom search
# attributes django-tasks-temporal sets on every task (SEARCH_ATTRIBUTES in
# src/django_tasks_temporal/search_attributes.py). The worker registers them too when it
# starts; doing it here makes the stack explicit and lets the web app enqueue before any
# worker ran. Safe to run again: both steps keep what exists.
set -eu
: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS, e.g. temporal:7233}"
: "${TEMPORAL_NAMESPACE:?set TEMPORAL_NAMESPACE, e.g. default}"
: "${TEMPORAL_NAMESPACE_RETENTION:=168h}"

retry() {  # retry ATTEMPTS COMMAND...: the server needs a few seconds after it listens
    attempts=$1
    shift
    until "$@"; do
        attempts=$((attempts - 1))
        [ "$attempts" -gt 0 ] || return 1
        sleep 2
    done
}

retry 60 temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if ! temporal operator namespace describe --address "$TEMPORAL_ADDRESS" \
        --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" \
        --namespace "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_NAMESPACE_RETENTION"
fi

# A new namespace takes a few seconds to reach the frontend's cache.
retry 30 temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" \
    --namespace "$TEMPORAL_NAMESPACE" \
    --name DjangoTaskPath --type Keyword \
    --name DjangoTaskPriority --type Int \
    --name DjangoTaskBackend --type Keyword \
    --name DjangoTaskState --type Keyword \
    --name DjangoScheduleHash --type Keyword

echo "Namespace $TEMPORAL_NAMESPACE is ready, with django-tasks-temporal's search attributes."
