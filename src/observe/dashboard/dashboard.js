// The redis-ha dashboard: plain browser JavaScript, no library, no build step, nothing fetched from
// elsewhere. It listens to /api/events (Server-Sent Events: `status` every second, `timeline` lines as
// they happen) and redraws. Everything from the server is put in the page as text, never as HTML.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const token = document.querySelector('meta[name="redis-ha-token"]').content;
const switchoverOffered = document.querySelector('meta[name="redis-ha-switchover"]').content === 'on';
const $ = (id) => document.getElementById(id);

let latest = null;
const timeline = new Map();

const addressOf = (x) => `${x.host}:${x.port}`;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function bytes(n) {
  if (n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const num = (n) => (n === undefined ? '–' : Number(n).toLocaleString('en'));

function hitRatio(f) {
  const total = (f.keyspace_hits ?? 0) + (f.keyspace_misses ?? 0);
  return total === 0 ? '–' : `${((100 * f.keyspace_hits) / total).toFixed(1)} %`;
}

function dl(rows) {
  const d = el('dl');
  for (const [k, v] of rows) d.append(el('dt', {}, k), el('dd', {}, String(v)));
  return d;
}

/** `host:port` → node id, so every view names nodes the same way. */
function nodeNames(s) {
  return new Map(s.nodes.map((n) => [addressOf(n), n.id]));
}

function nameAt(names, address) {
  return address ? names.get(addressOf(address)) ?? addressOf(address) : 'none';
}

function renderHeader(s) {
  const names = nodeNames(s);
  $('name').textContent = s.name;
  const health = $('health');
  health.textContent = s.healthy ? 'healthy' : 'not healthy';
  health.className = `badge ${s.healthy ? 'healthy' : 'unhealthy'}`;
  const master = $('master');
  master.textContent = s.master ? `${nameAt(names, s.master)} (${addressOf(s.master)})` : 'none agreed';
  master.dataset.node = s.master ? nameAt(names, s.master) : '';
  $('master-name').textContent = `Sentinel master name ${s.masterName}, quorum ${s.quorum}`;
  document.title = `redis-ha ${s.name}: ${s.healthy ? 'healthy' : 'NOT healthy'}`;
  const problems = $('problems');
  problems.replaceChildren(...s.problems.map((p) => el('li', {}, p)));
}

function renderDiagram(s) {
  const d = $('diagram');
  const width = Math.max(d.clientWidth, 320);
  const height = 250;
  d.setAttribute('viewBox', `0 0 ${width} ${height}`);
  d.replaceChildren();
  const names = nodeNames(s);
  const master = s.master ? addressOf(s.master) : null;
  const bw = 150;
  const place = (items, y) => {
    const gap = width / items.length;
    return new Map(items.map((x, i) => [addressOf(x), { x: gap * i + gap / 2, y }]));
  };
  const nodeAt = place(s.nodes, 150);
  const sentinelAt = place(s.sentinels, 40);
  const links = svg('g');
  d.append(links);
  for (const n of s.nodes) {
    if (n.role !== 'replica' || !n.following) continue;
    const from = nodeAt.get(addressOf(n));
    const to = nodeAt.get(n.following);
    if (!from || !to) continue;
    const lift = 60 + Math.abs(from.x - to.x) / 8;
    links.append(svg('path', {
      class: `link follows${n.linkUp ? '' : ' down'}`,
      d: `M ${from.x} ${from.y + 28} C ${from.x} ${from.y + 28 + lift / 3}, ${to.x} ${to.y + 28 + lift / 3}, ${to.x + 10} ${to.y + 28}`,
      'marker-end': 'url(#arrow)',
    }));
  }
  for (const sen of s.sentinels) {
    if (!sen.master) continue;
    const from = sentinelAt.get(addressOf(sen));
    const to = nodeAt.get(addressOf(sen.master));
    if (!from || !to) continue;
    const agrees = master !== null && addressOf(sen.master) === master;
    links.append(svg('line', { class: `link ${agrees ? 'agree' : 'disagree'}`, x1: from.x, y1: from.y + 22, x2: to.x, y2: to.y - 28 }));
  }
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#175cd3' }));
  defs.append(marker);
  d.append(defs);
  for (const n of s.nodes) {
    const p = nodeAt.get(addressOf(n));
    const g = svg('g', { class: `node ${n.role}`, 'data-node': n.id, 'data-role': n.role });
    g.append(svg('rect', { class: 'box', x: p.x - bw / 2, y: p.y - 28, width: bw, height: 56, rx: 8 }));
    g.append(svg('text', { class: 'title', x: p.x, y: p.y - 8, 'text-anchor': 'middle' }, `${n.id} · ${n.role}`));
    g.append(svg('text', { class: 'sub', x: p.x, y: p.y + 8, 'text-anchor': 'middle' }, addressOf(n)));
    const f = n.figures ?? {};
    const line = n.reachable ? `${num(f.instantaneous_ops_per_sec)} ops/s · ${num(f.keys)} keys` : 'unreachable';
    g.append(svg('text', { class: 'sub', x: p.x, y: p.y + 22, 'text-anchor': 'middle' }, line));
    d.append(g);
  }
  for (const sen of s.sentinels) {
    const p = sentinelAt.get(addressOf(sen));
    const g = svg('g', { class: `sentinel${sen.reachable ? '' : ' down'}`, 'data-sentinel': sen.id });
    g.append(svg('rect', { class: 'box', x: p.x - bw / 2, y: p.y - 22, width: bw, height: 44, rx: 22 }));
    g.append(svg('text', { class: 'title', x: p.x, y: p.y - 3, 'text-anchor': 'middle' }, sen.id));
    const sees = sen.reachable ? `sees ${nameAt(names, sen.master)}` : 'unreachable';
    g.append(svg('text', { class: 'sub', x: p.x, y: p.y + 12, 'text-anchor': 'middle' }, sees));
    d.append(g);
  }
}

function renderNodes(s) {
  const cards = s.nodes.map((n) => {
    const f = n.figures ?? {};
    const rows = n.reachable
      ? [
          ['follows', n.role === 'replica' ? `${nameAt(nodeNames(s), parseAddress(n.following))} (link ${n.linkUp ? 'up' : 'down'})` : '–'],
          ['ops/s', num(f.instantaneous_ops_per_sec)],
          ['memory', bytes(f.used_memory)],
          ['clients', num(f.connected_clients)],
          ['keys', num(f.keys)],
          ['hit ratio', hitRatio(f)],
          ['commands', num(f.total_commands_processed)],
          ['offset', num(n.offset)],
          ['lag', n.lagBytes === undefined ? '–' : `${num(n.lagBytes)} B`],
          ['version', f.redisVersion ?? '–'],
        ]
      : [['error', n.error ?? 'unreachable']];
    return el('div', { class: `card ${n.role}`, 'data-node': n.id, 'data-role': n.role },
      el('h3', {}, el('span', {}, `${n.id} ${addressOf(n)}`), el('span', { class: 'role' }, n.role)),
      dl(rows));
  });
  $('nodes').replaceChildren(...cards);
}

function parseAddress(text) {
  if (!text) return undefined;
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

function renderSentinels(s) {
  const names = nodeNames(s);
  const master = s.master ? addressOf(s.master) : null;
  const cards = s.sentinels.map((sen) => {
    const agrees = sen.master !== null && master !== null && addressOf(sen.master) === master;
    const rows = sen.reachable
      ? [
          ['sees master', nameAt(names, sen.master)],
          ['flags', sen.masterFlags.join(',') || '–'],
          ['replicas seen', sen.replicasSeen],
          ['other Sentinels', sen.otherSentinelsSeen],
          ['epoch', sen.configEpoch],
          ['quorum', sen.quorumOk ? 'ok' : sen.quorumMessage],
        ]
      : [['error', sen.error ?? 'unreachable']];
    if (sen.failoverInProgress) rows.push(['failover', 'in progress']);
    if (sen.tilt) rows.push(['TILT', 'yes']);
    return el('div', { class: `card ${agrees ? 'agree' : 'disagree'}`, 'data-sentinel': sen.id, 'data-sees': sen.master ? nameAt(names, sen.master) : '' },
      el('h3', {}, el('span', {}, `${sen.id} ${addressOf(sen)}`)),
      dl(rows));
  });
  $('sentinels').replaceChildren(...cards);
}

function renderSwitchTargets(s) {
  const select = $('switch-to');
  const replicas = s.nodes.filter((n) => n.role === 'replica' && n.reachable).map((n) => n.id);
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join() === replicas.join()) return;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'the most caught-up replica'), ...replicas.map((id) => el('option', { value: id }, id)));
  if (replicas.includes(chosen)) select.value = chosen;
}

function render(s) {
  latest = s;
  renderHeader(s);
  renderDiagram(s);
  renderNodes(s);
  renderSentinels(s);
  renderSwitchTargets(s);
}

function renderTimeline() {
  const items = [...timeline.values()].sort((a, b) => b.id - a.id).map((e) => {
    const when = new Date(e.at);
    const time = el('time', { datetime: when.toISOString() }, when.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(when.getMilliseconds()).padStart(3, '0'));
    return el('li', { 'data-kind': e.kind, class: e.ok ? '' : 'failed' }, time, el('span', { class: 'kind' }, e.kind), el('span', {}, e.text));
  });
  $('timeline').replaceChildren(...items);
}

function connect() {
  const live = $('live');
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  events.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live'; });
  events.addEventListener('hello', (m) => {
    timeline.clear();
    for (const e of JSON.parse(m.data).timeline) timeline.set(e.id, e);
    renderTimeline();
  });
  events.addEventListener('timeline', (m) => {
    const e = JSON.parse(m.data);
    timeline.set(e.id, e);
    renderTimeline();
  });
  events.addEventListener('status', (m) => render(JSON.parse(m.data)));
}

function setupSwitchover() {
  if (!switchoverOffered) {
    $('switchover-panel').hidden = true;
    return;
  }
  const dialog = $('confirm');
  const result = $('switch-result');
  $('switchover').addEventListener('click', () => {
    const to = $('switch-to').value;
    const from = latest && latest.master ? nameAt(nodeNames(latest), latest.master) : 'the master';
    $('confirm-text').textContent = `Switch the master from ${from} to ${to || 'the most caught-up replica'}? Writes pause for a moment; clients reconnect to the new master.`;
    dialog.showModal();
  });
  $('confirm-cancel').addEventListener('click', () => dialog.close());
  $('confirm-switchover').addEventListener('click', async () => {
    dialog.close();
    const button = $('switchover');
    button.disabled = true;
    result.className = '';
    result.textContent = 'switching over…';
    try {
      const res = await fetch('/api/switchover', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Redis-HA-Token': token },
        body: JSON.stringify({ to: $('switch-to').value || undefined }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      result.textContent = body.result;
    } catch (err) {
      result.className = 'failed';
      result.textContent = `switchover failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
}

window.addEventListener('resize', () => latest && renderDiagram(latest));
setupSwitchover();
connect();
