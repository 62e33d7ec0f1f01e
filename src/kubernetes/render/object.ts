/** The shape of a rendered object: plain JSON, ready for YAML or server-side apply. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** metadata with a namespace and labels, and annotations only when there are some. */
export function meta(name: string, namespace: string, labels: Record<string, string>, annotations?: Record<string, string>): K8sObject['metadata'] {
  return {
    name,
    namespace,
    labels: { ...labels },
    ...(annotations !== undefined && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
  };
}
