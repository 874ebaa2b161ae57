// Independent consumer check for aertrace's trace-event exports.
//
// The Chrome DevTools performance panel's trace engine (@paulirish/trace_engine, the code DevTools itself
// runs) parses each file. DevTools, like Perfetto, silently drops what it cannot place — a slice that partly
// overlaps its parent, an unmatched async end — so after parsing we check that every slice, async window,
// instant and name we wrote is still there.
//
// usage: node check.mjs FILE.json...      exit 0 when all files pass, 1 otherwise, 2 on usage error
import fs from 'node:fs';
import zlib from 'node:zlib';
import * as Trace from '@paulirish/trace_engine';

// The engine touches window.DOMRect while reading screenshots metadata; Node has none.
globalThis.DOMRect ??= class DOMRect {
  constructor(x = 0, y = 0, width = 0, height = 0) { Object.assign(this, {x, y, width, height}); }
};

function load(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const json = JSON.parse(buf.toString('utf8'));
  const events = Array.isArray(json) ? json : json.traceEvents;
  if (!Array.isArray(events)) throw new Error('no traceEvents array');
  return events;
}

async function check(file) {
  const input = load(file);
  const problems = [];
  // The engine mutates and sorts what it is given: keep our own copy to compare against.
  const expected = structuredClone(input);
  const model = Trace.TraceModel.Model.createWithAllHandlers();
  await model.parse(input);
  const parsed = model.parsedTrace();
  if (!parsed) throw new Error('engine returned no parsed trace');
  const data = parsed.data;

  // Names: every process_name / thread_name we wrote is what the engine reports.
  const procNames = data.Meta.processNames;
  const threads = data.Meta.threadsInProcess;
  let names = 0;
  for (const e of expected.filter(e => e.ph === 'M')) {
    if (e.name === 'process_name') {
      names++;
      const got = procNames.get(e.pid)?.args?.name;
      if (got !== e.args.name) problems.push(`process ${e.pid}: name ${JSON.stringify(got)} != ${JSON.stringify(e.args.name)}`);
    } else if (e.name === 'thread_name') {
      names++;
      const got = threads.get(e.pid)?.get(e.tid)?.args?.name;
      if (got !== e.args.name) problems.push(`thread ${e.pid}/${e.tid}: name ${JSON.stringify(got)} != ${JSON.stringify(e.args.name)}`);
    }
  }

  // Slices: every X must be an entry of its thread AND a node of the thread's tree (DevTools leaves
  // partly-overlapping slices out of the tree, which is how a bad nesting shows up).
  const entryToNode = data.Renderer.entryToNode;
  const slices = expected.filter(e => e.ph === 'X');
  for (const x of slices) {
    const thread = data.Renderer.processes.get(x.pid)?.threads.get(x.tid);
    const hit = thread?.entries?.find(en => en.name === x.name && en.ts === x.ts && en.dur === x.dur);
    if (!hit) problems.push(`slice ${JSON.stringify(x.name)} at ${x.ts} on ${x.pid}/${x.tid} not found in the parsed thread`);
    else if (!entryToNode.has(hit)) problems.push(`slice ${JSON.stringify(x.name)} at ${x.ts} on ${x.pid}/${x.tid} was dropped from the call tree (bad nesting)`);
  }

  // Async windows: DevTools' own pairing function must match every b with its e.
  const asyncs = expected.filter(e => e.ph === 'b' || e.ph === 'e');
  const begins = asyncs.filter(e => e.ph === 'b');
  const pairs = Trace.Helpers.Trace.createMatchedSortedSyntheticEvents(structuredClone(asyncs));
  const ends = asyncs.length - begins.length;
  if (pairs.length !== begins.length || pairs.length !== ends) {
    problems.push(`async: ${begins.length} b and ${ends} e events but ${pairs.length} matched pairs`);
  }
  for (const p of pairs) {
    const b = p.args.data.beginEvent, e = p.args.data.endEvent;
    if (!b || !e || b.name !== e.name || b.cat !== e.cat || e.ts < b.ts) problems.push(`async pair ${p.name} badly matched`);
  }

  // Instants: kept with their timestamp (DevTools keeps them in the sorted event list).
  const instants = expected.filter(e => e.ph === 'i' || e.ph === 'I');
  const kept = new Set(parsed.traceEvents.filter(e => e.ph === 'i' || e.ph === 'I').map(e => `${e.name}@${e.ts}`));
  for (const i of instants) if (!kept.has(`${i.name}@${i.ts}`)) problems.push(`instant ${i.name} at ${i.ts} lost`);
  const counts = `${expected.length} events: ${slices.length} X, ${begins.length} async windows, ${instants.length} instants, ${names} names`;
  if (slices.length + begins.length + instants.length === 0) problems.push('no timed events at all');
  return {counts, problems, generic: data.Meta.traceIsGeneric};
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.mjs FILE.json...');
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  try {
    const {counts, problems} = await check(f);
    if (problems.length) {
      failed++;
      console.log(`FAIL ${f} (${counts})`);
      for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
      if (problems.length > 20) console.log(`  … ${problems.length - 20} more`);
    } else {
      console.log(`ok   ${f} (${counts})`);
    }
  } catch (err) {
    failed++;
    console.log(`FAIL ${f}: ${err.message}`);
  }
}
console.log(`trace-check: ${files.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
