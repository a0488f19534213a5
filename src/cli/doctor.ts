/** `stockade doctor [--json]` */
import { doctorRows } from '../host/doctor.js';
import { probeHost } from '../host/probe.js';
import { parseArgs } from './args.js';
import type { Io } from './io.js';

export function doctorCommand(argv: string[], io: Io): number {
  const p = parseArgs(argv, { json: {} }, 'doctor');
  const facts = probeHost();
  const rows = doctorRows(facts);
  if (p.bools.has('json')) {
    io.out(JSON.stringify({ facts, rows }, null, 2));
    return 0;
  }
  const w = Math.max(...rows.map((r) => r.layer.length));
  const s = Math.max(...rows.map((r) => r.status.length));
  for (const r of rows) io.out(`${r.ok ? 'ok ' : '-- '} ${r.layer.padEnd(w)}  ${r.status.padEnd(s)}  ${r.detail}`);
  return 0;
}
