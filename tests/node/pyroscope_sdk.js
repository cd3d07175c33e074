#!/usr/bin/env node
// Runs the published @pyroscope/nodejs SDK against a Pyroscope-compatible server (profcol) with a
// CPU workload whose function name the test looks for, wall and heap profiling, and tags.
// Used by tests/e2e_pyroscope_sdks.rs.
//
//   node pyroscope_sdk.js SERVER_URL APP_NAME SECONDS
'use strict';

const Pyroscope = require('@pyroscope/nodejs');

const [serverAddress, appName, secondsArg] = process.argv.slice(2);
if (!serverAddress || !appName) {
  console.error('usage: pyroscope_sdk.js SERVER_URL APP_NAME [SECONDS]');
  process.exit(2);
}
const seconds = Number(secondsArg || '3');

Pyroscope.init({
  serverAddress,
  appName,
  tags: { env: 'e2e', team: 'profcol' },
  flushIntervalMs: 1000,
  wall: { collectCpuTime: true },
});

// The distinctive workload: the test asserts this name reaches the OTLP output.
function profcolNodeHotLoop(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 10000; i++) x += Math.sqrt(i * x + 1);
  }
  return x;
}

async function main() {
  Pyroscope.start();
  const deadline = Date.now() + seconds * 1000;
  let sink = 0;
  while (Date.now() < deadline) {
    sink += profcolNodeHotLoop(200);
    // Let the profiler's timers and uploads run between bursts.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // stop() collects and uploads the last profiles.
  await Pyroscope.stop();
  console.log(JSON.stringify({ done: true, sink: sink > 0 }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
