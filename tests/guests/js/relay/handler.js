// A JavaScript guest for the tests: relays every platform event and every scheduled run
// as JSON to the config setting `webhook_url`, and asks for a redelivery when the
// receiver does not answer 2xx.

export async function onEvent(event, api) {
  const response = await fetch(api.config.get("webhook_url"), {
    method: "POST",
    headers: { "content-type": "application/json", "x-event-id": event.id },
    body: JSON.stringify({ id: event.id, action: event.action, attempt: event.attempt, tenant: event.tenant.name, detail: event.detail }),
  });
  if (!response.ok) throw new Error(`the receiver answered ${response.status}`);
}

export async function onSchedule(run, api) {
  const response = await fetch(api.config.get("webhook_url"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ run: run.runId, schedule: run.schedule, at: run.scheduledAt.getTime() / 1000 }),
  });
  if (!response.ok) throw new Error(`the receiver answered ${response.status}`);
}
