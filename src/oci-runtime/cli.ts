#!/usr/bin/env node
/**
 * The Node entry point of stockade-runtime. bin/stockade-runtime runs the native front
 * (native/runtime/front.c), which does start, kill and delete itself and execs this file for
 * everything else, with the original arguments; without the front, the script execs this directly.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`stockade-runtime: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
