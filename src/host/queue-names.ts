// The scan-request queues, fixed because the queue trigger's binding names them. Kept apart from settings.ts so
// that registering the functions loads nothing but @azure/functions (settings.ts brings zod).
export const SCAN_QUEUE = "auditguard-scan-requests";
export const SCAN_POISON_QUEUE = `${SCAN_QUEUE}-poison`;
/** host.json extensions.queues.maxDequeueCount: the attempts a scan request gets before the poison queue. */
export const MAX_DEQUEUE_COUNT = 5;
