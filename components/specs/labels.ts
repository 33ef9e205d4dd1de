/** The labels every ferry object carries, so `kubectl get -l app.kubernetes.io/part-of=ferry` finds them. */
export function ferryLabels(component: string, runId?: string): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "ferry",
    "app.kubernetes.io/component": component,
    ...(runId ? { "ferry.dev/run-id": runId } : {}),
  };
}
