/**
 * The RedisHA CustomResourceDefinition: its `spec` schema is generated from the spec field table
 * (`src/spec/openapi.ts`), so the API server validates and defaults the same fields `resolveSpec` does.
 */
import { specToOpenAPI, type OpenAPISchema } from '../spec/index.ts';
import { API_GROUP, KIND } from './render/index.ts';
import type { K8sObject } from './render/index.ts';

export const VERSION = 'v1alpha1';
export const PLURAL = 'redishas';
export const SINGULAR = 'redisha';
export const CRD_NAME = `${PLURAL}.${API_GROUP}`;

/** The condition types the operator keeps in `status.conditions`. */
export const CONDITION_TYPES = ['Ready', 'MasterAvailable', 'SentinelsAgree', 'Degraded', 'Migrated'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

type Schema = Record<string, unknown>;
const str = (description: string): Schema => ({ type: 'string', description });
const int = (description: string): Schema => ({ type: 'integer', format: 'int64', description });
const bool = (description: string): Schema => ({ type: 'boolean', description });

/**
 * The spec part: the field table's schema, less what a custom resource must not carry. Passwords are
 * dropped (the API server prunes them; they live in a Secret named by `auth.existingSecret` or made by
 * the operator), and `name` is optional (it is the resource's `metadata.name`).
 */
export function specSchema(): OpenAPISchema {
  const schema = structuredClone(specToOpenAPI());
  delete schema.required;
  const name = schema.properties!.name!;
  name.description = `${name.description ?? ''} In a RedisHA resource it defaults to metadata.name and, if given, must equal it.`.trim();
  const auth = schema.properties!.auth!;
  delete auth.properties!.password;
  delete auth.properties!.sentinelPassword;
  auth.description = `${auth.description ?? ''} Passwords are never part of the resource: name a Secret in existingSecret, or the operator makes one (<name>-auth) and keeps it.`.trim();
  return schema;
}

/** The status part; the operator writes it through the status subresource only. */
export function statusSchema(): Schema {
  const address = str('host:port, the pod\'s stable hostname through the headless Service');
  return {
    type: 'object',
    description: 'Observed by the operator; rebuilt from the world on every pass.',
    properties: {
      observedGeneration: int('The metadata.generation the operator last applied.'),
      master: address,
      masterPod: str('The pod named master by a majority of the Sentinels.'),
      readyReplicas: int('Replicas following the master with their link up.'),
      replicas: {
        type: 'array',
        description: 'Every Redis pod other than the master.',
        items: {
          type: 'object',
          properties: {
            pod: str('Pod name.'),
            address,
            role: str('The role the node reports: replica, master, down or unknown.'),
            linkUp: bool('The replication link to the master is up.'),
            lagBytes: int("Bytes behind the master's replication offset."),
          },
        },
      },
      sentinelsAgreeing: int('Sentinels naming the agreed master.'),
      switchover: {
        type: 'object',
        description: "The answer to the last planned switchover asked with the annotation redis-ha.io/switchover ('kubectl redisha failover').",
        properties: {
          request: str('The token of the request answered.'),
          time: { type: 'string', format: 'date-time', description: 'When it finished.' },
          result: str('Succeeded or Failed.'),
          message: str('What happened, in a sentence.'),
          from: str('The previous master pod.'),
          to: str('The new master pod.'),
        },
      },
      lastFailover: {
        type: 'object',
        description: 'The last time a majority of Sentinels came to name another master.',
        properties: {
          time: { type: 'string', format: 'date-time', description: 'When it was seen.' },
          from: str('The previous master pod.'),
          to: str('The new master pod.'),
          reason: str('What started it: MasterDown (Sentinel saw the master fail), Requested (the operator asked), or Observed.'),
          epoch: int('The Sentinel config epoch after it.'),
        },
      },
      memory: {
        type: 'object',
        description: "The topology controller's memory (invariant 3): the master and the highest Sentinel epoch seen, so a restart does not re-guess.",
        properties: { master: address, epoch: int('Highest Sentinel config epoch seen; never decreases.') },
      },
      migration: {
        type: 'object',
        description: 'The migration from spec.migrateFrom: where it is, and what it keeps between passes (the source as first seen; no secrets).',
        properties: {
          phase: { type: 'string', enum: ['Running', 'Failed', 'Done'], description: 'Running, Failed (retried), or Done.' },
          step: str('The step it is at: check, deploy, sync, switchover, sentinels, old-nodes or healthy.'),
          message: str('Its last progress line, or why it failed.'),
          oldNodes: { type: 'array', items: { type: 'string' }, description: "The source's nodes (host:port) as first seen." },
          oldSentinels: { type: 'array', items: { type: 'string' }, description: "The source's Sentinels (host:port) as first seen." },
          oldPriorities: { type: 'object', additionalProperties: { type: 'string' }, description: "Each old node's replica-priority before the migration." },
          startedAt: { type: 'string', format: 'date-time', description: 'When the migration started.' },
          switchingAt: int('When a switchover was last started (ms since the epoch); a killed one left writes paused.'),
          switchedTo: str('The node of this deployment the source Sentinels name since the switchover (host:port).'),
          finishedAt: { type: 'string', format: 'date-time', description: 'When the migration completed.' },
          writePauseMs: int("The switchover's write pause, in ms."),
          oldSentinelsForgotten: bool('The old Sentinels were gone and each of this deployment\'s forgot them (SENTINEL RESET): a failover needs a majority of its own Sentinels alone.'),
        },
      },
      healthy: bool('No problems: the same verdict as redis-ha status.'),
      masterName: str('The Sentinel master-group name.'),
      quorum: int('Sentinel quorum.'),
      nodes: {
        type: 'array',
        description: 'Every Redis pod as the operator last observed it (what redis-ha status --k8s prints).',
        items: {
          type: 'object',
          properties: {
            id: str('Pod name.'), host: str('Stable hostname.'), port: int('Port.'), role: str('master, replica, down or unknown.'),
            reachable: bool('It answered.'), following: str('host:port it replicates from.'), linkUp: bool('Replication link up.'),
            lagBytes: int('Bytes behind the master.'),
            server: str('What it runs, from INFO server (redis 7.0.15, valkey 9.1.2); what it last reported while it does not answer. An image change is checked against it.'),
          },
        },
      },
      sentinels: {
        type: 'array',
        description: 'Every Sentinel pod as the operator last observed it.',
        items: {
          type: 'object',
          properties: {
            id: str('Pod name.'), host: str('Stable hostname.'), port: int('Port.'), reachable: bool('It answered.'),
            master: str('host:port of the master it names.'), masterFlags: { type: 'array', items: { type: 'string' }, description: 'Flags of the master.' },
            replicasSeen: int('Replicas it sees.'), otherSentinelsSeen: int('Other Sentinels it sees.'), quorumOk: bool('CKQUORUM ok.'),
            configEpoch: int('Config epoch.'), failoverInProgress: bool('A failover is under way.'), tilt: bool('In TILT mode.'),
          },
        },
      },
      problems: { type: 'array', description: 'Why it is not Ready, one sentence each.', items: { type: 'string' } },
      conditions: {
        type: 'array',
        description: `Conditions: ${CONDITION_TYPES.join(', ')}.`,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        items: {
          type: 'object',
          required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
          properties: {
            type: str('One of the condition types.'),
            status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
            observedGeneration: int('The generation this condition was computed for.'),
            lastTransitionTime: { type: 'string', format: 'date-time', description: 'When status last changed.' },
            reason: str('CamelCase reason.'),
            message: str('Human-readable detail.'),
          },
        },
      },
    },
  };
}

/**
 * The CRD object (apiextensions.k8s.io/v1): structural schema, status subresource, printer columns
 * for `kubectl get redisha` (master, readiness and its reason, replicas, age, and the Ready message: why
 * it is not Ready, in one line a person can act on).
 */
export function redisHACRD(): K8sObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/name': 'redis-ha-operator', 'app.kubernetes.io/part-of': 'redis-ha' } },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: ['rha'], categories: ['all'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Master', type: 'string', jsonPath: '.status.masterPod', description: 'The pod the Sentinels name master' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Why it is (not) Ready: Healthy, NotHealthy, InvalidSpec, or the kubelet\'s reason a pod cannot start (ImagePullBackOff, CrashLoopBackOff, Unschedulable, …)' },
            { name: 'Replicas', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Replicas in sync with the master' },
            { name: 'Sentinels', type: 'integer', jsonPath: '.status.sentinelsAgreeing', description: 'Sentinels agreeing on the master', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', description: 'The Ready condition in one line: what is wrong, which pods, and the fix' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A Redis master with replicas and Sentinels, kept highly available by the redis-ha operator.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
            },
          },
        },
      ],
    },
  };
}
