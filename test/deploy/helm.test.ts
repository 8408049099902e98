import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { projectRoot } from '../../config/paths'
import { ConfigSchema } from '../../config/schema'
import { build, skipSuite } from '../support/app'

// deploy/helm/bookstore rendered by `helm template`, read as a user of the chart would: what
// the kubelet probes, which variables reach the service, where it may write, which Secret it
// reads, how it stops, and what the PDB and HPA act on. scripts/helm-check.sh lints it and
// validates every manifest against Kubernetes' schemas; this holds it to the service itself.

const chart = path.join(projectRoot, 'deploy', 'helm', 'bookstore')
const ciValues = (mode: string): string => path.join(chart, 'ci', `${mode}-values.yaml`)
const HELM_VERSION = 'v4.3.2'

/** HELM, helm on PATH, or the one scripts/helm-check.sh builds and caches, if it runs. */
function findHelm (): string | undefined {
  const tools = process.env.BOOKSTORE_TOOLS ?? '/var/tmp/bookstore-tools'
  const candidates = [process.env.HELM, path.join(tools, `helm-${HELM_VERSION}`, 'helm'), 'helm']
  return candidates.find((cmd): cmd is string => {
    if (cmd === undefined || cmd === '') return false
    const probe = spawnSync(cmd, ['version', '--short'], { stdio: 'ignore' })
    return probe.error === undefined && probe.status === 0
  })
}

// The parts of the rendered manifests this file reads.
interface Meta { name: string, labels?: Record<string, string>, annotations?: Record<string, string> }
interface Probe { httpGet: { path: string, port: string }, periodSeconds: number, failureThreshold: number }
interface EnvVar { name: string, valueFrom: { secretKeyRef: { name: string, key: string, optional: boolean } } }
interface Port { name: string, containerPort: number, protocol: string }
interface Container {
  ports: Port[]
  env: EnvVar[]
  envFrom: unknown
  readinessProbe: Probe
  livenessProbe: Probe
  startupProbe: Probe
  securityContext: unknown
  volumeMounts: Array<{ name: string, mountPath: string, readOnly?: boolean }>
  lifecycle: { preStop: { exec: { command: string[] } } }
  resources: { requests: { cpu?: string }, limits: { memory?: string } }
}
interface PodSpec {
  containers: Container[]
  securityContext: unknown
  automountServiceAccountToken: boolean
  terminationGracePeriodSeconds: number
  volumes: Array<{ name: string, emptyDir?: unknown }>
}
interface Spec {
  replicas?: number
  selector: { matchLabels: Record<string, string> } & Record<string, unknown>
  strategy: { rollingUpdate: unknown }
  template: { metadata: Meta & { annotations: Record<string, string>, labels: Record<string, string> }, spec: PodSpec }
  ports: unknown
  maxUnavailable: number
  scaleTargetRef: unknown
  minReplicas: number
  maxReplicas: number
}
interface Manifest { kind: string, metadata: Meta, spec: Spec, data: Record<string, string> }
interface Rendered { status: number | null, stderr: string, docs: Manifest[] }

function render (helm: string, args: string[]): Rendered {
  const res = spawnSync(helm, ['template', 'bookstore', chart, ...args], { encoding: 'utf8' })
  const docs = res.status === 0
    ? parseAllDocuments(res.stdout).map((d) => d.toJSON() as Manifest | null).filter((d): d is Manifest => d !== null)
    : []
  return { status: res.status, stderr: res.stderr, docs }
}

function one (docs: Manifest[], kind: string): Manifest {
  const found = docs.filter((d) => d.kind === kind)
  const [only] = found
  if (only === undefined || found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`)
  return only
}

/** The Deployment's one container. */
function containerOf (deployment: Manifest): Container {
  const [container] = deployment.spec.template.spec.containers
  if (container === undefined) throw new Error('the Deployment has no container')
  return container
}

/** Every environment variable name the service reads: config/schema.ts's `env`s and the README's table. */
function namesTheServiceReads (): Set<string> {
  const names = new Set<string>()
  for (const prop of Object.values(ConfigSchema.properties)) {
    const env = (prop as { env?: unknown }).env
    if (typeof env === 'string') names.add(env)
  }
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8')
  for (const row of readme.split('\n').filter((l) => /^\| `[A-Z][A-Z0-9_]+`/.test(l))) {
    const first = row.split('|')[1] ?? ''
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1] ?? '')
  }
  return names
}

/** A list the chart's _helpers.tpl defines (`{{- define "bookstore.NAME" -}}` then one line of names). */
function chartList (name: string): string[] {
  const helpers = readFileSync(path.join(chart, 'templates', '_helpers.tpl'), 'utf8')
  const m = new RegExp(`define "bookstore\\.${name}" -}}\\n([A-Z0-9_ ]+)\\n`).exec(helpers)
  if (m?.[1] === undefined) throw new Error(`no bookstore.${name} list in _helpers.tpl`)
  return m[1].trim().split(' ')
}

const helm = findHelm()
if (helm === undefined) {
  skipSuite(t, 'deploy/helm/bookstore', `no helm binary (bash scripts/helm-check.sh builds helm ${HELM_VERSION} into /var/tmp/bookstore-tools); the chart is not tested`)
} else {
  const reads = namesTheServiceReads()
  const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8')
  const defaults = readFileSync(path.join(projectRoot, 'config', 'default.yml'), 'utf8')

  t.test('the chart passes on only names the service reads, and every setting it reads', async (t) => {
    const secretKeys = chartList('secretKeys')
    const configKeys = chartList('configKeys')
    for (const name of [...secretKeys, ...configKeys]) {
      t.ok(reads.has(name), `${name} is read by the service (config/schema.ts, README)`)
    }
    const settable = new Set([...secretKeys, ...configKeys, 'NODE_ENV', 'HOST', 'PORT'])
    for (const prop of Object.values(ConfigSchema.properties)) {
      const env = (prop as { env?: unknown }).env
      if (typeof env === 'string') t.ok(settable.has(env), `${env} (config/schema.ts) can be set through the chart`)
    }
    for (const name of ['JWT_SECRET', 'JWT_PREVIOUS_SECRETS', 'ADMIN_PASSWORD', 'DATABASE_URL', 'DATABASE_REPLICA_URLS', 'MONGODB_URL', 'REDIS_URL', 'SMTP_URL']) {
      t.ok(secretKeys.includes(name), `${name} holds a credential (config/schema.ts SECRET_SETTINGS): from the Secret`)
      t.notOk(configKeys.includes(name), `${name} cannot be put in the ConfigMap`)
    }
  })

  t.test('MySQL + Redis, secrets inline: the Deployment as the service needs it', async (t) => {
    const r = render(helm, ['-f', ciValues('mysql-redis')])
    t.equal(r.status, 0, r.stderr)
    const deployment = one(r.docs, 'Deployment')
    const service = one(r.docs, 'Service')
    const configMap = one(r.docs, 'ConfigMap')
    const secret = one(r.docs, 'Secret')
    const pod = deployment.spec.template
    const container = containerOf(deployment)
    t.equal(pod.spec.containers.length, 1, 'one container')

    // Probes: the routes exist and answer as the probes expect, on the port the service listens on.
    const http = container.ports.find((p) => p.name === 'http')
    t.same(http, { name: 'http', containerPort: 3000, protocol: 'TCP' }, 'the container port named http is 3000')
    t.equal(configMap.data.PORT, String(http?.containerPort), 'PORT is the container port')
    t.equal(configMap.data.HOST, '0.0.0.0', 'HOST=0.0.0.0: the kubelet and the Service reach the pod by its own address')
    t.equal(configMap.data.NODE_ENV, 'production', 'NODE_ENV=production')
    t.same(container.readinessProbe.httpGet, { path: '/health/ready', port: 'http' }, 'readiness on /health/ready')
    t.same(container.livenessProbe.httpGet, { path: '/health/live', port: 'http' }, 'liveness on /health/live')
    t.same(container.startupProbe.httpGet, { path: '/health/live', port: 'http' }, 'start-up on /health/live')
    const startupWait = (ConfigSchema.properties.startupWaitSeconds as { default: number }).default
    t.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold > 3 * startupWait,
      `the start-up probe outlasts the waits for MySQL, MongoDB and Redis in turn (3 x ${startupWait} s): slow backends are waited for, not restarted`)
    const app = await build(t)
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      const res = await app.inject({ method: 'GET', url: probe.httpGet.path })
      t.equal(res.statusCode, 200, `the probe's GET ${probe.httpGet.path} is a route of the service, 200 when healthy`)
    }
    t.same(service.spec.ports, [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], 'the Service sends to the http port')

    // Environment: every name is one the service reads; credentials only from the Secret.
    const envNames = [...Object.keys(configMap.data), ...container.env.map((e) => e.name)]
    for (const name of envNames) t.ok(reads.has(name), `${name} is read by the service`)
    t.equal(new Set(envNames).size, envNames.length, 'no name is set twice')
    t.same(container.envFrom, [{ configMapRef: { name: configMap.metadata.name } }], 'the non-secret settings from the ConfigMap')
    for (const e of container.env) {
      t.same(Object.keys(e.valueFrom), ['secretKeyRef'], `${e.name} comes from a Secret`)
      t.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name, `${e.name}: the chart's Secret`)
      t.equal(e.valueFrom.secretKeyRef.key, e.name, `${e.name}: the key of its own name`)
      t.equal(e.valueFrom.secretKeyRef.optional, e.name !== 'JWT_SECRET', `${e.name}: ${e.name === 'JWT_SECRET' ? 'required' : 'optional'}`)
    }
    const values = readFileSync(ciValues('mysql-redis'), 'utf8')
    const jwt = /JWT_SECRET: (\S+)/.exec(values)?.[1] ?? ''
    t.equal(Buffer.from(secret.data.JWT_SECRET ?? '', 'base64').toString(), jwt, 'the Secret holds the JWT secret given')
    t.same(Object.keys(secret.data).sort(), ['DATABASE_URL', 'JWT_SECRET', 'MONGODB_URL', 'REDIS_URL', 'SMTP_URL'], 'only the secrets given')
    for (const value of Object.values(configMap.data)) {
      t.notOk(/:\/\/[^/@]*:[^/@]*@/.test(value), 'no URL with a password in the ConfigMap')
    }
    t.match(pod.metadata.annotations, { 'checksum/config': /^[0-9a-f]{64}$/, 'checksum/secret': /^[0-9a-f]{64}$/ },
      'a changed setting or secret rolls the pods')

    // The image's user, a read-only root file system, and writable volumes where it writes.
    t.match(dockerfile, /^USER node$/m, 'the image runs as node')
    const uid = 1000 // the node user of the node:*-bookworm-slim images
    t.match(pod.spec.securityContext, { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } })
    t.same(container.securityContext, {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: uid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' }
    }, 'non-root, read-only root, no capabilities, no escalation, the runtime seccomp profile')
    t.equal(pod.spec.automountServiceAccountToken, false, 'no Kubernetes API token in the pod')
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile.split('AS runtime')[1] ?? '')?.[1] ?? ''
    t.equal(workdir, '/app', 'the runtime stage works in /app')
    const mounts = new Map(container.volumeMounts.map((m) => [m.mountPath, m.name]))
    const volumes = new Map(pod.spec.volumes.map((v) => [v.name, v]))
    const dataDb = /^databaseUrl: sqlite:(\S+)/m.exec(defaults)?.[1] ?? ''
    const mailDir = /^mailDir: (\S+)/m.exec(defaults)?.[1] ?? ''
    for (const [what, file] of [['the SQLite default', dataDb], ['MAIL_DIR', mailDir], ['temporary files', '/tmp/x']] as const) {
      const where = path.posix.resolve(workdir, file)
      const mount = [...mounts.keys()].find((m) => where.startsWith(`${m}/`))
      t.ok(mount, `${what} (${where}) is under a mounted volume`)
      t.ok(volumes.get(mounts.get(mount ?? '') ?? '')?.emptyDir, `${what}: a writable emptyDir`)
    }
    t.ok(mounts.has('/app/data') && mounts.has('/tmp'), '/app/data and /tmp are mounted')
    t.notOk(container.volumeMounts.some((m) => m.readOnly === true && m.mountPath === '/app/data'), 'the data volume is writable')

    // Stopping: endpoints go before SIGTERM, and the drain is never cut short.
    const sleep = container.lifecycle.preStop.exec.command
    t.equal(sleep[0], 'sleep', 'preStop pauses')
    const pause = Number(sleep[1])
    t.ok(pause >= 3, `the pause (${pause} s) gives endpoint removal time to spread`)
    const drain = (ConfigSchema.properties.shutdownGraceMs as { default: number }).default / 1000
    t.equal(drain, 10, 'the service drains for up to 10 s (docs/API.md "Operations")')
    t.ok(pod.spec.terminationGracePeriodSeconds > pause + drain,
      `terminationGracePeriodSeconds (${pod.spec.terminationGracePeriodSeconds}) > pause + drain (${pause + drain})`)
    t.same(deployment.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 }, 'a rollout never lowers capacity')

    // Resources, and shedding before the memory limit is reached.
    t.ok(container.resources.requests.cpu, 'a CPU request (the HPA measures against it)')
    t.equal(container.resources.limits.memory, '320Mi', 'a memory limit')
    t.equal(configMap.data.SHED_RSS_MB, String(Math.floor(320 * 0.85)), 'SHED_RSS_MB: 85% of the memory limit')

    // PDB and HPA act on this Deployment's pods; the Service selects them.
    const podLabels = pod.metadata.labels
    t.match(podLabels, deployment.spec.selector.matchLabels, 'the Deployment selects its pods')
    t.match(podLabels, service.spec.selector, 'the Service selects the pods')
    const pdb = one(r.docs, 'PodDisruptionBudget')
    t.match(podLabels, pdb.spec.selector.matchLabels, 'the PDB selects the pods')
    t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB selects exactly the Deployment\'s pods')
    t.equal(pdb.spec.maxUnavailable, 1, 'one pod at a time is evicted')
    const hpa = one(r.docs, 'HorizontalPodAutoscaler')
    t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name }, 'the HPA scales the Deployment')
    t.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas, 'at least two pods')
    t.equal(deployment.spec.replicas, undefined, 'with the HPA on, the Deployment leaves the count to it')
  })

  t.test('an existing Secret: no Secret rendered, every reference names it', async (t) => {
    const r = render(helm, ['-f', ciValues('existing-secret')])
    t.equal(r.status, 0, r.stderr)
    t.equal(r.docs.filter((d) => d.kind === 'Secret').length, 0, 'the chart renders no Secret')
    const container = containerOf(one(r.docs, 'Deployment'))
    const refs = new Set(container.env.map((e) => e.valueFrom.secretKeyRef.name))
    t.same([...refs], ['bookstore-credentials'], 'every secret is read from bookstore-credentials')
    t.notOk('checksum/secret' in one(r.docs, 'Deployment').spec.template.metadata.annotations, 'no checksum of a Secret the chart does not see')
  })

  t.test('Sentinel, Cluster, replicas, one pod: each mode renders what it says', async (t) => {
    const sentinel = render(helm, ['-f', ciValues('sentinel')])
    t.equal(sentinel.status, 0, sentinel.stderr)
    t.match(one(sentinel.docs, 'ConfigMap').data, { REDIS_SENTINELS: /:26379,/, REDIS_SENTINEL_NAME: 'mymaster' })
    t.notOk('REDIS_CLUSTER_NODES' in one(sentinel.docs, 'ConfigMap').data, 'no Cluster beside Sentinel')

    const cluster = render(helm, ['-f', ciValues('cluster')])
    t.equal(cluster.status, 0, cluster.stderr)
    t.match(one(cluster.docs, 'ConfigMap').data, { REDIS_CLUSTER_NODES: /:6379,/, METRICS_PORT: '9100' })
    const clusterContainer = containerOf(one(cluster.docs, 'Deployment'))
    t.same(clusterContainer.ports[1], { name: 'metrics', containerPort: 9100, protocol: 'TCP' }, 'the metrics port is exposed')

    const replicas = render(helm, ['-f', ciValues('replicas')])
    t.equal(replicas.status, 0, replicas.stderr)
    t.equal(one(replicas.docs, 'Deployment').spec.replicas, 3, 'a fixed count without the HPA')
    t.equal(replicas.docs.filter((d) => d.kind === 'HorizontalPodAutoscaler').length, 0, 'no HPA')
    t.ok(one(replicas.docs, 'Secret').data.MONGODB_URL, 'the replica set\'s URL in the Secret')
    t.match(Buffer.from(one(replicas.docs, 'Secret').data.DATABASE_REPLICA_URLS ?? '', 'base64').toString(), /^mysql:\/\/.+,mysql:\/\/.+$/, 'the SQL read replicas\' URLs in the Secret')
    t.equal(one(replicas.docs, 'ConfigMap').data.REPLICA_MAX_LAG_SECONDS, '2', 'their lag bound in the ConfigMap')
    t.equal(one(replicas.docs, 'ConfigMap').data.SHED_RSS_MB, '400', 'SHED_RSS_MB as configured')

    const single = render(helm, ['-f', ciValues('single-pod')])
    t.equal(single.status, 0, single.stderr)
    t.equal(one(single.docs, 'Deployment').spec.replicas, 1, 'one pod')
    t.same(single.docs.map((d) => d.kind).sort(), ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount'], 'no HPA, no PDB')
  })

  t.test('what cannot work is refused at render time, with a message naming the value', async (t) => {
    const jwt = 'secrets.JWT_SECRET=test-only-placeholder-0123456789abcdef'
    const mysql = 'secrets.DATABASE_URL=mysql://u:test-only@db:3306/b'
    const cases: Array<[string, string[], RegExp]> = [
      ['the default values (no JWT secret)', [], /no JWT secret\. Set secrets\.existingSecret .* or secrets\.JWT_SECRET/],
      ['a short JWT secret', ['--set', 'secrets.JWT_SECRET=short', '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=false'], /secrets\.JWT_SECRET is shorter than 32 bytes/],
      ['a misspelt setting', ['--set', jwt, '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=false', '--set', 'config.LOG_LEVLE=debug'], /config\.LOG_LEVLE is not a setting the service reads/],
      ['a credential in the ConfigMap', ['--set', jwt, '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=false', '--set', 'config.REDIS_URL=redis://r:6379'], /config\.REDIS_URL carries credentials: set secrets\.REDIS_URL/],
      ['read replicas without a MySQL primary', ['--set', jwt, '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=false', '--set', 'secrets.DATABASE_REPLICA_URLS=mysql://u:test-only@r:3306/b'], /secrets\.DATABASE_REPLICA_URLS are replicas of a mysql:\/\/ secrets\.DATABASE_URL/],
      ['a misspelt secret', ['--set', jwt, '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=false', '--set', 'secrets.JWT_SECRETS=x'], /secrets\.JWT_SECRETS is not a secret setting/],
      ['two Redis modes', ['--set', jwt, '--set', mysql, '--set', 'secrets.REDIS_URL=redis://r:6379', '--set', 'config.REDIS_CLUSTER_NODES=r:6379', '--set', 'config.REDIS_SENTINEL_NAME=m'], /set one of secrets\.REDIS_URL, config\.REDIS_SENTINELS, config\.REDIS_CLUSTER_NODES/],
      ['Sentinels without a master name', ['--set', jwt, '--set', mysql, '--set', 'config.REDIS_SENTINELS=s:26379'], /REDIS_SENTINELS needs config\.REDIS_SENTINEL_NAME/],
      ['several pods on SQLite', ['--set', jwt, '--set', 'secrets.REDIS_URL=redis://r:6379'], /more than one pod needs a shared database/],
      ['several pods on an in-process cache', ['--set', jwt, '--set', mysql], /more than one pod needs a shared Redis/],
      ['a grace period shorter than the drain', ['-f', ciValues('single-pod'), '--set', 'terminationGracePeriodSeconds=12'], /terminationGracePeriodSeconds \(12\) must be above preStopSleepSeconds \(5\) \+ the service's 10 s drain/],
      ['SHED_RSS_MB at the memory limit', ['-f', ciValues('single-pod'), '--set', 'config.SHED_RSS_MB=320'], /SHED_RSS_MB \(320\) must be below the memory limit \(320 Mi\)/],
      ['a misspelt value (values.schema.json)', ['-f', ciValues('single-pod'), '--set', 'replicacount=3'], /additional properties 'replicacount' not allowed/],
      ['a mistyped value (values.schema.json)', ['-f', ciValues('single-pod'), '--set', 'preStopSleepSeconds=soon'], /preStopSleepSeconds'?: got string, want integer/],
      ['inline secrets beside an existing Secret', ['-f', ciValues('existing-secret'), '--set', jwt], /secrets\.JWT_SECRET is set beside secrets\.existingSecret/]
    ]
    for (const [what, args, message] of cases) {
      const r = render(helm, args)
      t.not(r.status, 0, `${what}: refused`)
      t.match(r.stderr, message, `${what}: the message says what to set`)
    }
  })
}

// The chart is found where the docs say (also when helm is absent, so a moved chart fails).
t.ok(existsSync(path.join(chart, 'Chart.yaml')), 'deploy/helm/bookstore/Chart.yaml exists')
