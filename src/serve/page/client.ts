/*
 * The dashboard's script, served as /app.js: plain browser JavaScript (no build step, no library). It
 * draws /api/progress, follows /api/events (server-sent events, resumed from the last one seen), shows a
 * batch (/api/batches/PHASE/BATCH) and saves corrections (POST /api/corrections with the page's token).
 * Everything it shows is set as text, never as HTML. Kept free of backquotes and dollar-brace: it is a
 * String.raw literal.
 */
export const CLIENT_JS = String.raw`(function () {
  'use strict';
  var TOKEN = document.querySelector('meta[name=cf-token]').getAttribute('content');
  var STATES = ['fresh', 'done', 'queued', 'running', 'retrying', 'failed', 'stale', 'waiting', 'skipped', 'cancelled', 'stopped'];
  var progress = null;
  var selected = null;
  var timer = null;
  var batchTimer = null;
  var editing = null;
  var notice = null;

  function api(p) { return p + (p.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(TOKEN); }
  function get(p) {
    return fetch(api(p)).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); });
  }
  function post(p, body) {
    return fetch(p, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cf-token': TOKEN }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
  }
  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') n.textContent = attrs[k];
      else if (k === 'onclick') n.addEventListener('click', attrs[k]);
      else n.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) n.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return n;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }
  function ms(x) {
    if (x === null || x === undefined) return '?';
    if (x < 1000) return x + ' ms';
    if (x < 60000) return (x / 1000).toFixed(1) + ' s';
    if (x < 3600000) return Math.floor(x / 60000) + ' min ' + Math.round((x % 60000) / 1000) + ' s';
    return Math.floor(x / 3600000) + ' h ' + Math.round((x % 3600000) / 60000) + ' min';
  }
  function usd(x) { return '$' + (x >= 1 ? x.toFixed(2) : x.toFixed(4)); }
  function usage(u) {
    if (!u || !u.attempts) return 'no agent runs';
    if (!u.tokensIn && !u.costUsd) return u.attempts + ' agent runs (no usage reported)';
    return u.tokensIn + ' tokens in (' + Math.round(u.cacheShare * 100) + '% from cache), ' + u.tokensOut + ' out, ' + usd(u.costUsd);
  }
  function json(v) { return v === null || v === undefined ? '' : JSON.stringify(v, null, 2); }

  function legend() {
    var box = clear(document.getElementById('legend'));
    STATES.forEach(function (s) {
      var i = el('i', {}); i.style.background = 'var(--' + s + ')';
      box.appendChild(el('span', {}, [i, s]));
    });
  }

  function renderProgress(p) {
    document.getElementById('course').textContent = 'cf: ' + p.course;
    var badge = document.getElementById('status');
    badge.textContent = p.status; badge.className = 'badge ' + p.status;
    var all = { completed: 0, failed: 0, inProgress: 0, pending: 0 };
    Object.keys(p.progress).forEach(function (k) { Object.keys(all).forEach(function (f) { all[f] += p.progress[k][f]; }); });
    document.getElementById('summary').textContent = p.totalSeeds + ' seeds, ' + p.totalBatches + ' batches: ' + all.completed + ' done, ' +
      all.inProgress + ' running, ' + all.pending + ' to do, ' + all.failed + ' failed' +
      (p.currentPhase ? ' (now ' + p.currentPhase + '#' + p.currentBatch + ')' : '') + (p.elapsedMs !== null ? ', ' + ms(p.elapsedMs) : '');
    document.getElementById('eta').textContent = p.estimatedCompletion ? 'done by ' + new Date(p.estimatedCompletion).toLocaleTimeString() + ' (' + ms(p.estimatedRemainingMs) + ' left)' : '';
    document.getElementById('cost').textContent = 'this build: ' + usage(p.usage.build);
    var box = clear(document.getElementById('phases'));
    p.phases.forEach(function (ph) {
      var g = p.progress[ph.name];
      var grid = el('div', { class: 'grid' });
      ph.batches.forEach(function (b) {
        var t = ph.name + '#' + b.batch;
        var title = t + ': ' + b.state + (b.attempt > 1 ? ' (attempt ' + b.attempt + '/' + b.of + ')' : '') + (b.ms !== undefined ? ', ' + ms(b.ms) : '');
        grid.appendChild(el('button', { class: 'cell' + (t === selected ? ' selected' : ''), 'data-target': t, 'data-state': b.state, title: title, onclick: function () { openBatch(t); } }, [String(b.batch)]));
      });
      var corr = g.corrections.count ? ', ' + g.corrections.count + ' corrections' + (g.corrections.older ? ' (' + g.corrections.older + ' to review)' : '') : '';
      box.appendChild(el('section', { class: 'phase', 'data-phase': ph.name }, [
        el('h2', { text: ph.name + ' → ' + ph.output }),
        el('div', { class: 'stats', text: g.completed + '/' + g.total + ' done, ' + g.inProgress + ' running, ' + g.pending + ' to do, ' + g.failed + ' failed' +
          (g.skipped ? ', ' + g.skipped + ' not built' : '') + '; batch ' + (g.durations.meanMs !== null ? 'mean ' + ms(g.durations.meanMs) : 'durations unknown') + corr }),
        el('div', { class: 'stats', text: 'this build: ' + usage(g.usage.build) + '; current outputs: ' + usage(g.usage.recorded) }),
        grid,
      ]));
    });
    var sel = document.getElementById('f-phase');
    if (sel.options.length === 1) p.phases.forEach(function (ph) { sel.appendChild(el('option', { value: ph.name, text: ph.name })); });
  }

  function loadFailures() {
    var phase = document.getElementById('f-phase').value;
    var rule = document.getElementById('f-rule').value;
    get('/api/failures?phase=' + encodeURIComponent(phase) + '&rule=' + encodeURIComponent(rule)).then(function (r) {
      var box = clear(document.getElementById('failures'));
      var rules = document.getElementById('f-rule');
      if (!r.failures.length) box.appendChild(el('p', { class: 'muted', text: 'no failures' }));
      r.failures.forEach(function (f) {
        f.errors.forEach(function (e) {
          var type = e.rule || e.source;
          if (!Array.prototype.some.call(rules.options, function (o) { return o.value === type; })) rules.appendChild(el('option', { value: type, text: type }));
          box.appendChild(el('div', { class: 'error failure', 'data-target': f.target, onclick: function () { openBatch(f.target); } },
            [f.target + ' attempt ' + e.attempt + ': ' + (e.item ? e.item + ' ' : '') + '(' + type + ') ' + e.message]));
        });
      });
    });
  }

  function refresh() {
    return get('/api/progress').then(function (p) { progress = p; renderProgress(p); loadFailures(); });
  }
  function schedule() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, 150);
  }
  function scheduleBatch() {
    if (batchTimer || editing) return;
    batchTimer = setTimeout(function () { batchTimer = null; loadBatch(); }, 150);
  }

  function connect() {
    var q = progress && progress.lastEvent ? '&build=' + encodeURIComponent(progress.lastEvent.buildId) + '&since=' + progress.lastEvent.seq : '';
    var es = new EventSource(api('/api/events') + q);
    es.onmessage = function (m) {
      var e = JSON.parse(m.data);
      schedule();
      var names = [e.target].concat(e.packed || []);
      if (selected && (names.indexOf(selected) >= 0 || e.event === 'summary' || e.event === 'edit-taken')) scheduleBatch();
    };
  }

  function openBatch(target) {
    selected = target;
    notice = null;
    editing = null;
    Array.prototype.forEach.call(document.querySelectorAll('.cell'), function (c) { c.classList.toggle('selected', c.getAttribute('data-target') === target); });
    loadBatch();
  }
  function loadBatch() {
    if (!selected) return;
    var i = selected.lastIndexOf('#');
    get('/api/batches/' + encodeURIComponent(selected.slice(0, i)) + '/' + selected.slice(i + 1)).then(renderBatch);
  }
  function fileLink(d, a, f) {
    return el('a', { href: api('/api/batches/' + encodeURIComponent(d.phase) + '/' + d.batch + '/files/' + a.key + '/' + f), target: '_blank', text: f }, []);
  }

  function saveCorrection(d, id, text, status) {
    var item;
    try { item = JSON.parse(text); } catch (err) { status.textContent = 'not JSON: ' + err.message; return; }
    status.textContent = 'checking with the phase\'s validation…';
    post('/api/corrections', { phase: d.phase, id: id, set: item }).then(function (r) {
      if (r.status === 200) { notice = { target: selected, text: id + ': correction saved in ' + r.body.file }; editing = null; loadBatch(); schedule(); return; }
      var errs = r.body.errors ? r.body.errors.map(function (e) { return (e.item ? e.item + ': ' : '') + e.message; }).join('; ') : (r.body.error && r.body.error.message) || 'refused';
      status.textContent = 'refused: ' + errs;
      status.className = 'error save-status';
    });
  }
  function review(d, id, how) {
    post('/api/corrections/' + how, { phase: d.phase, id: id }).then(function () { loadBatch(); schedule(); });
  }

  function renderBatch(d) {
    var box = clear(document.getElementById('batch'));
    var state = d.cell ? d.cell.state : d.explain.state;
    box.appendChild(el('h2', { text: d.target + (d.span ? ' (' + d.span[0] + ' … ' + d.span[1] + ')' : '') }, [' ', el('span', { class: 'badge state', 'data-state': state, text: state })]));
    if (notice && notice.target === d.target) box.appendChild(el('div', { class: 'corrected notice', text: notice.text }));
    box.appendChild(el('div', { class: 'explain' }, d.explain.reasons.map(function (r) { return el('div', { text: r }); })));
    if (d.last) box.appendChild(el('div', { class: 'muted', text: 'last built ' + d.last.at + ' in ' + ms(d.last.ms) + ', ' + d.last.attempts + ' attempt(s)' + (d.last.adopted ? ', adopted from ' + d.last.adopted : '') }));
    if (d.errors.length) {
      box.appendChild(el('h3', { text: 'Errors' }));
      box.appendChild(el('div', { class: 'errors' }, d.errors.map(function (e) {
        return el('div', { class: 'error' }, ['attempt ' + e.attempt + ': ' + (e.item ? e.item + ' ' : '') + '(' + e.type + ') ' + e.message]);
      })));
    }
    box.appendChild(el('h3', { text: 'Items: input → output' + (d.outputStale ? ' (output: the last one built, not for the current inputs)' : '') }));
    var table = el('table', { class: 'items' }, [el('tr', {}, [el('th', { text: 'id' }), el('th', { text: 'input' }), el('th', { text: 'output' })])]);
    d.items.forEach(function (it) {
      var out = el('td', { class: 'output' }, [el('pre', { text: json(it.output) })]);
      var notes = el('div', {});
      it.corrections.forEach(function (c) {
        notes.appendChild(el('div', { class: 'corrected', text: 'corrected' + (c.pointer ? ' at ' + c.pointer : '') + ' by ' + c.author }));
        if (c.older) notes.appendChild(el('div', { class: 'flag' }, ['made against an older generation ',
          el('button', { class: 'small keep', onclick: function () { review(d, it.id, 'keep'); }, text: 'keep' }), ' ',
          el('button', { class: 'small drop', onclick: function () { review(d, it.id, 'drop'); }, text: 'drop' })]));
      });
      if (it.corrections.length && !it.corrections.some(function (c) { return c.older; })) notes.appendChild(el('button', { class: 'small drop', onclick: function () { review(d, it.id, 'drop'); }, text: 'drop correction' }));
      if (it.output) {
        notes.appendChild(el('button', { class: 'small edit', onclick: function () {
          editing = it.id;
          var area = el('textarea', { class: 'editor' }); area.value = json(it.output);
          var status = el('div', { class: 'muted save-status' });
          clear(out).appendChild(el('div', {}, [area,
            el('button', { class: 'small save', onclick: function () { saveCorrection(d, it.id, area.value, status); }, text: 'save correction' }), ' ',
            el('button', { class: 'small', onclick: function () { editing = null; loadBatch(); }, text: 'cancel' }), status]));
        }, text: 'edit' }));
      }
      table.appendChild(el('tr', { class: 'item', 'data-id': it.id }, [el('td', {}, [it.id, notes]), el('td', {}, [el('pre', { text: json(it.input) })]), out]));
    });
    box.appendChild(table);
    if (d.attempts.length) box.appendChild(el('h3', { text: 'Attempts' }));
    d.attempts.forEach(function (a) {
      var files = el('div', {}, [a.label + ': ']);
      a.files.forEach(function (f) { files.appendChild(fileLink(d, a, f)); files.appendChild(document.createTextNode(' ')); });
      box.appendChild(el('div', { class: 'attempt' }, [files,
        a.errorsText ? el('pre', { class: 'error', text: a.errorsText }) : null,
        a.stderrTail ? el('details', {}, [el('summary', { text: 'stderr (end)' }), el('pre', { text: a.stderrTail })]) : null,
        a.stdoutTail ? el('details', {}, [el('summary', { text: 'stdout (end)' }), el('pre', { text: a.stdoutTail })]) : null,
        a.promptHead ? el('details', {}, [el('summary', { text: 'prompt' }), el('pre', { text: a.promptHead })]) : null]));
    });
  }

  document.getElementById('f-phase').addEventListener('change', loadFailures);
  document.getElementById('f-rule').addEventListener('change', loadFailures);
  legend();
  refresh().then(connect, connect);
})();
`;
