/**
 * What a Redis or Sentinel pod's own status says about why it is not running, read the way `kubectl
 * describe pod` would, as pure functions over the core/v1 Pod: the cause a person can act on (the
 * kubelet's waiting reason and message, the scheduler's reason) and whether the pod ever became Ready
 * (a pod that never did holds no data, so a roll may replace it at once: roll.ts).
 */

/** The part of a core/v1 Pod these functions read. */
export interface PodObject {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: {
    phase?: string;
    podIP?: string;
    startTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number; message?: string } };
  lastState?: { terminated?: { reason?: string; exitCode?: number; message?: string } };
}

/** The kind of cause, which decides the fix and which causes count as one (for one Event, not one per pod or pass). */
export type TroubleClass = 'image' | 'crash' | 'config' | 'unschedulable';

/** Why one pod is not running, in the kubelet's or the scheduler's words. */
export interface PodTrouble {
  readonly pod: string;
  readonly class: TroubleClass;
  /** The kubelet's waiting reason (ImagePullBackOff, ErrImageNeverPull, CrashLoopBackOff, …) or Unschedulable. */
  readonly reason: string;
  readonly message: string;
  /** The container that waits (absent for an unschedulable pod). */
  readonly container?: string;
  /** The image the container runs or cannot pull. */
  readonly image?: string;
}

/** Waiting reasons that are a problem, not progress (ContainerCreating and PodInitializing are progress). */
const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'ImageInspectError', 'RegistryUnavailable', 'SignatureValidationFailed']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'PreCreateHookError', 'PreStartHookError', 'PostStartHookError']);

function condition(p: PodObject, type: string) {
  return p.status?.conditions?.find((c) => c.type === type);
}

/** The pod's Ready condition is True now. */
export function isReady(p: PodObject): boolean {
  return condition(p, 'Ready')?.status === 'True';
}

/**
 * The pod has never been Ready: it was never scheduled, its containers never ran, or its Ready condition
 * has not changed since the kubelet first wrote it (False) at the pod's start. The kubelet sets
 * `startTime` and the first Ready condition in one status update, so a Ready condition whose last
 * transition is within a second of `startTime` never went True (a pod that was Ready and is no longer
 * has a later transition: readiness takes a probe to gain and a container exit or two failed probes to
 * lose). A pod that never became Ready never served, so it holds no data worth keeping.
 */
export function neverReady(p: PodObject): boolean {
  if (isReady(p)) return false;
  if (condition(p, 'PodScheduled')?.status === 'False') return true;
  const statuses = p.status?.containerStatuses ?? [];
  const ran = (c: ContainerStatus) => c.state?.running !== undefined || c.state?.terminated !== undefined || c.lastState?.terminated !== undefined || (c.restartCount ?? 0) > 0 || c.started === true;
  if (!statuses.some(ran)) return true;
  const ready = condition(p, 'Ready');
  const start = Date.parse(p.status?.startTime ?? '');
  if (!ready?.lastTransitionTime || Number.isNaN(start)) return false;
  return Date.parse(ready.lastTransitionTime) <= start + 1000;
}

/** Why the pod is not running, when its status says so plainly; undefined when it runs or is merely on its way. */
export function podTrouble(p: PodObject): PodTrouble | undefined {
  if (isReady(p) || p.metadata.deletionTimestamp) return undefined;
  const pod = p.metadata.name;
  const scheduled = condition(p, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') return { pod, class: 'unschedulable', reason: 'Unschedulable', message: oneLine(scheduled.message ?? 'no node fits the pod') };
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    const reason = waiting?.reason;
    if (!reason) continue;
    const image = c.image ? { image: c.image } : {};
    if (IMAGE_REASONS.has(reason)) return { pod, class: 'image', reason, message: oneLine(waiting.message ?? `cannot pull image ${c.image ?? ''}`), container: c.name, ...image };
    if (CONFIG_REASONS.has(reason)) return { pod, class: 'config', reason, message: oneLine(waiting.message ?? reason), container: c.name, ...image };
    if (reason === 'CrashLoopBackOff') {
      const last = c.lastState?.terminated;
      const exit = last ? `ended with ${last.reason ?? 'an error'} (exit code ${last.exitCode ?? '?'})` : 'ended';
      return { pod, class: 'crash', reason, message: `the last run of container ${c.name} ${exit}, ${c.restartCount ?? 0} restart(s)`, container: c.name, ...image };
    }
  }
  return undefined;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}

/**
 * What makes two troubles the same cause: one Event tells it, and a kubelet that alternates between
 * ErrImagePull and ImagePullBackOff for the same image does not make it a new one.
 */
export function troubleKey(t: PodTrouble): string {
  if (t.class === 'image') return `image:${t.image ?? t.message}`;
  if (t.class === 'crash') return `crash:${t.container}:${t.image ?? ''}`;
  return `${t.class}:${t.container ?? ''}:${t.message.replace(/\d+/g, 'N')}`;
}

/** The spec field that sets a container's image. */
function imageField(container: string | undefined): string {
  return container === 'exporter' ? 'spec.metrics.image' : 'spec.image (repository, tag)';
}

/** What a person does about a cause, in one clause. */
export function troubleFix(t: PodTrouble, namespace: string): string {
  switch (t.class) {
    case 'image':
      return `fix: set ${imageField(t.container)} to an image the node can pull${/pull policy of Never/.test(t.message) ? ' (pullPolicy Never: it must already be on the node)' : ''}; pods that never became ready are then replaced at once`;
    case 'crash':
      if (/OOMKilled/.test(t.message)) return `fix: raise spec.resources.${t.container}.limits.memory; pods that never became ready are then replaced at once`;
      return `fix: see 'kubectl logs -n ${namespace} ${t.pod} -c ${t.container} --previous', then correct the spec; pods that never became ready are then replaced at once`;
    case 'unschedulable':
      return 'fix: lower spec.resources requests, relax the affinity, or add node capacity; pods that never became ready are then replaced at once';
    case 'config':
      return 'fix: correct what the message names (a Secret, ConfigMap or the container spec)';
  }
}

function podList(pods: readonly string[]): string {
  return pods.length <= 3 ? pods.join(', ') : `${pods.slice(0, 3).join(', ')} and ${pods.length - 3} more`;
}

/** Troubles of the same cause together (troubleKey), in the order first seen, each with its pods. */
export function groupTroubles(troubles: readonly PodTrouble[]): { key: string; first: PodTrouble; pods: string[] }[] {
  const groups = new Map<string, { key: string; first: PodTrouble; pods: string[] }>();
  for (const t of troubles) {
    const key = troubleKey(t);
    const g = groups.get(key);
    if (g) g.pods.push(t.pod);
    else groups.set(key, { key, first: t, pods: [t.pod] });
  }
  return [...groups.values()];
}

/**
 * One sentence for one cause: the pods, the reason and message, and the fix. It is the Event's
 * message, the Ready condition's, and the line `kubectl get redisha` and `status --k8s` show.
 */
export function troubleSentence(group: { first: PodTrouble; pods: readonly string[] }, namespace: string): string {
  const t = group.first;
  const who = group.pods.length === 1 ? `pod ${group.pods[0]}` : `pods ${podList(group.pods)}`;
  const what = t.class === 'unschedulable' ? `cannot be scheduled: ${t.reason}: ${t.message}` : `${t.class === 'crash' ? (group.pods.length === 1 ? 'keeps crashing' : 'keep crashing') : 'cannot start'}: ${t.reason}: ${t.message}`;
  return `${who} ${what}; ${troubleFix(t, namespace)}`;
}

/**
 * The annotation that turns off the operator's crash rule for one RedisHA (`"off"`): the operator then
 * reports no pod facts, so a crashed master waits for Sentinel's down-after (or for its replacement to
 * start as a replica). For measuring plain Sentinel beside the rule (`bench failover --k8s`), or to
 * opt out.
 */
export const CRASH_FAILOVER_ANNOTATION = 'redis-ha.io/crash-failover';

/**
 * Why the Redis server of the node that runs as pod `name` is known not to run, from the pod alone
 * (`pod`: the informer's copy; undefined when there is no such pod), or undefined when it may run.
 * A pod being deleted counts (the kubelet is stopping it, or its node is gone); so does a pod whose
 * `redis` container is not running: terminated, waiting (ContainerCreating, ImagePullBackOff,
 * CrashLoopBackOff) or not started at all (a replacement not yet scheduled). The planner acts on it
 * only for a master that no longer answers.
 */
export function redisNotRunning(name: string, pod: PodObject | undefined): string | undefined {
  if (!pod) return `pod ${name} is deleted`;
  if (pod.metadata.deletionTimestamp) return `pod ${name} is being deleted`;
  const c = pod.status?.containerStatuses?.find((s) => s.name === 'redis');
  if (!c) return `the redis container of pod ${name} has not started${pod.status?.phase ? ` (pod ${pod.status.phase})` : ''}`;
  if (c.state?.running !== undefined) return undefined;
  const ended = c.state?.terminated;
  if (ended) return `the redis container of pod ${name} terminated (${ended.reason ?? 'no reason'}, exit code ${ended.exitCode ?? '?'})`;
  const waiting = c.state?.waiting;
  if (waiting) return `the redis container of pod ${name} is waiting (${waiting.reason ?? 'no reason'})`;
  return undefined;
}

/**
 * The runtime's facts for the planner (`ControllerOptions.gone`): each node (pod name) whose Redis is
 * known not to run, and why. None when the resource's `redis-ha.io/crash-failover` annotation is "off".
 */
export function goneNodes(nodes: readonly string[], pods: readonly PodObject[], annotations: Readonly<Record<string, string>> | undefined): Map<string, string> {
  const gone = new Map<string, string>();
  if (annotations?.[CRASH_FAILOVER_ANNOTATION]?.trim() === 'off') return gone;
  for (const name of nodes) {
    const why = redisNotRunning(name, pods.find((p) => p.metadata.name === name));
    if (why) gone.set(name, why);
  }
  return gone;
}
