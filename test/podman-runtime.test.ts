/**
 * podman end to end, through an OCI runtime given by `podman --runtime PATH`: runc (the anchor,
 * which shows these tests are right) and stockade-runtime (bin/stockade-runtime; skipped, with the
 * reason, until it is built). Each test checks something the kernel enforces, and most carry a
 * control run that shows the check can fail: output and exit codes, stdin (-i), a terminal (-t),
 * environment, volumes (rw and :ro), --read-only, capabilities, a seccomp profile file,
 * --pids-limit, --memory (OOM kill), podman stop and kill, podman exec, and joining a network
 * namespace given by path.
 *
 * podman runs with an isolated storage and containers.conf (test/support/podman.ts) and
 * `--network none` unless a test says otherwise. Every podman call has a timeout; containers are
 * removed in after hooks; the image is imported once per process.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeResult, hung, podmanSession, repoRoot, RUNC, runtimeUnavailable, STOCKADE_RUNTIME, type Podman, type PodmanResult,
} from './support/podman.js';

const SECCOMP_DENY_MKDIR = join(repoRoot, 'test', 'fixtures', 'podman', 'seccomp-deny-mkdir.json');

let pm: Podman | { reason: string };
let setupError: Error | undefined;

before(async () => {
  try {
    pm = await podmanSession();
  } catch (e) {
    setupError = e as Error;
    pm = { reason: 'podman setup failed' };
    return;
  }
  if ('reason' in pm) console.log(`# podman tests skipped: ${pm.reason}`);
  else console.log(`# podman storage ${pm.base} (driver ${pm.driver}${pm.driverNote ? `; ${pm.driverNote}` : ''})`);
});
after(async () => {
  if (pm && !('reason' in pm)) await pm.close();
});

/** The podman session, or skip the test with the reason (fail it if podman is there but broken). */
function ready(t: TestContext, runtime: string): Podman | null {
  if (setupError) throw setupError;
  if ('reason' in pm) {
    t.skip(pm.reason);
    return null;
  }
  const why = runtimeUnavailable(runtime);
  if (why) {
    t.skip(why);
    return null;
  }
  const h = hung(runtime);
  if (h) assert.fail(h);
  return pm;
}

function expectCode(r: PodmanResult, code: number, what: string): void {
  assert.equal(r.timedOut, false, `${what}: podman timed out\n${describeResult(r)}`);
  assert.equal(r.code, code, `${what}\n${describeResult(r)}`);
}

const token = () => randomBytes(6).toString('hex');

/** Poll until fn returns true (or give up after ms). */
async function until(fn: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const RUNTIMES = [
  { name: 'runc', path: RUNC },
  { name: 'stockade-runtime', path: STOCKADE_RUNTIME },
];

for (const rt of RUNTIMES) {
  describe(`podman --runtime ${rt.name}`, { concurrency: 3 }, () => {
    const R = rt.path;
    /** Containers started detached by this describe; removed in after() even if a test failed. */
    const detached = new Set<string>();
    after(async () => {
      if ('reason' in pm || detached.size === 0) return;
      await pm.call(['rm', '-f', '-t', '0', ...detached], { timeoutMs: 60_000 });
    });

    async function startDetached(p: Podman, command: string[], flags: string[] = []): Promise<string> {
      const r = await p.run(R, ['-d', ...flags], command, { keep: true });
      expectCode(r, 0, 'podman run -d');
      const id = r.stdout.trim().split('\n').pop()!;
      assert.match(id, /^[0-9a-f]{64}$/, describeResult(r));
      detached.add(id);
      return id;
    }

    it('passes stdout through and returns the exit code', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const r = await p.run(R, [], ['sh', '-c', 'echo hi; echo err >&2; exit 3']);
      expectCode(r, 3, 'exit 3');
      assert.equal(r.stdout, 'hi\n');
      assert.match(r.stderr, /^err$/m);
      const ok = await p.run(R, [], ['true']);
      expectCode(ok, 0, 'true');
      // 127: the runtime could not find the command (podman maps the runtime's error).
      const missing = await p.run(R, [], ['/no/such/command']);
      assert.ok(missing.code === 127 || missing.code === 126, `a missing command must fail with 126/127\n${describeResult(missing)}`);
    });

    it('-i passes stdin to the container', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const input = `line one ${token()}\nline two\n`;
      const r = await p.run(R, ['-i'], ['cat'], { input });
      expectCode(r, 0, 'cat with -i');
      assert.equal(r.stdout, input);
      // Control: without -i the container's stdin is not the pipe.
      const c = await p.run(R, [], ['cat'], { input });
      expectCode(c, 0, 'cat without -i');
      assert.equal(c.stdout, '');
    });

    it('-t gives the container a terminal (podman itself on pipes)', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const r = await p.run(R, ['-t'], ['sh', '-c', 'tty; test -t 0 && echo stdin-is-tty; test -t 1 && echo stdout-is-tty']);
      expectCode(r, 0, 'tty with -t');
      const lines = r.stdout.split(/\r?\n/);
      assert.match(lines[0] ?? '', /^\/dev\/pts\/\d+$/, describeResult(r));
      assert.ok(lines.includes('stdin-is-tty') && lines.includes('stdout-is-tty'), describeResult(r));
      assert.ok(r.stdout.includes('\r\n'), 'output through a pty has CRLF line ends (onlcr)');
      // Control: no -t, no terminal (tty exits 1).
      const c = await p.run(R, [], ['tty']);
      expectCode(c, 1, 'tty without -t');
      assert.match(c.stdout, /not a tty/);
    });

    it('-e sets the environment', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const v = token();
      const r = await p.run(R, ['-e', `VAR=${v}`, '-e', 'OTHER=two words'], ['sh', '-c', 'echo "$VAR|$OTHER|$container"']);
      expectCode(r, 0, '-e');
      assert.equal(r.stdout, `${v}|two words|podman\n`);
    });

    it('-v mounts a host directory read-write, and :ro refuses writes', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const dir = p.scratch('volume');
      chmodSync(dir, 0o755);
      const fromHost = token();
      writeFileSync(join(dir, 'in.txt'), `${fromHost}\n`);
      const fromContainer = token();
      const r = await p.run(R, ['-v', `${dir}:/data`], ['sh', '-c', `cat /data/in.txt; echo ${fromContainer} > /data/out.txt`]);
      expectCode(r, 0, 'rw volume');
      assert.equal(r.stdout, `${fromHost}\n`);
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), `${fromContainer}\n`, 'the file written inside is on the host');

      const ro = await p.run(R, ['-v', `${dir}:/data:ro`], ['sh', '-c', 'cat /data/in.txt; echo x > /data/ro.txt']);
      assert.notEqual(ro.code, 0, `writing to a :ro volume must fail\n${describeResult(ro)}`);
      assert.equal(ro.stdout, `${fromHost}\n`, 'the :ro volume is still readable');
      assert.match(ro.stderr, /Read-only file system/);
      assert.equal(existsSync(join(dir, 'ro.txt')), false, 'nothing was written through the :ro volume');
    });

    it('--read-only makes / read-only, /tmp stays writable', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const script = 'touch /x 2>&1 && echo root-writable; touch /tmp/y && echo tmp-writable';
      const r = await p.run(R, ['--read-only'], ['sh', '-c', script]);
      expectCode(r, 0, '--read-only');
      assert.match(r.stdout, /Read-only file system/);
      assert.doesNotMatch(r.stdout, /root-writable/);
      assert.match(r.stdout, /tmp-writable/);
      // Control: without --read-only, root (with CAP_DAC_OVERRIDE) can write /.
      const c = await p.run(R, [], ['sh', '-c', script]);
      expectCode(c, 0, 'without --read-only');
      assert.match(c.stdout, /root-writable/);
    });

    it('--cap-drop ALL makes chown fail; --cap-add CHOWN brings it back', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const script = 'touch /tmp/f && chown 65534:65534 /tmp/f && stat -c %u:%g /tmp/f';
      const [dropped, added, dflt] = await Promise.all([
        p.run(R, ['--cap-drop', 'ALL'], ['sh', '-c', script]),
        p.run(R, ['--cap-drop', 'ALL', '--cap-add', 'CHOWN'], ['sh', '-c', script]),
        p.run(R, [], ['sh', '-c', script]),
      ]);
      assert.notEqual(dropped.code, 0, `chown without CAP_CHOWN must fail\n${describeResult(dropped)}`);
      assert.match(dropped.stderr, /Operation not permitted/, describeResult(dropped));
      expectCode(added, 0, '--cap-add CHOWN');
      assert.equal(added.stdout, '65534:65534\n');
      expectCode(dflt, 0, 'default capabilities');
      assert.equal(dflt.stdout, '65534:65534\n');
    });

    it('--security-opt seccomp=FILE is enforced (mkdir denied with EPERM)', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const [denied, allowed] = await Promise.all([
        p.run(R, ['--security-opt', `seccomp=${SECCOMP_DENY_MKDIR}`], ['sh', '-c', 'mkdir /tmp/d && echo made']),
        p.run(R, [], ['sh', '-c', 'mkdir /tmp/d && echo made']),
      ]);
      assert.notEqual(denied.code, 0, describeResult(denied));
      assert.match(denied.stderr, /can't create directory '\/tmp\/d': Operation not permitted/, describeResult(denied));
      assert.doesNotMatch(denied.stdout, /made/);
      expectCode(allowed, 0, 'mkdir under the default profile');
      assert.equal(allowed.stdout, 'made\n');
    });

    it('--pids-limit stops a fork loop', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      // The inner shell starts up to 40 background sleeps, noting the count; the outer shell
      // reports it with builtins only (no fork needed once the limit is reached).
      const script =
        "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); echo $i > /tmp/n; done'; read n < /tmp/n; echo started=$n";
      const [limited, control] = await Promise.all([
        p.run(R, ['--pids-limit', '20'], ['sh', '-c', script]),
        p.run(R, [], ['sh', '-c', script]),
      ]);
      assert.equal(limited.timedOut, false, describeResult(limited));
      const n = Number(/started=(\d+)/.exec(limited.stdout)?.[1] ?? NaN);
      assert.ok(n < 20, `at most 20 pids (two shells among them): started ${n}\n${describeResult(limited)}`);
      assert.match(limited.stderr, /can't fork/, describeResult(limited));
      expectCode(control, 0, 'the same loop without --pids-limit');
      assert.match(control.stdout, /started=40/, describeResult(control));
    });

    it('--memory 32m: a process holding 100 MiB is OOM-killed (137)', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      // busybox tail keeps its whole input when it has no newline: it holds all 100 MiB.
      const script = 'head -c 100m /dev/zero | tail > /dev/null';
      const [limited, control] = await Promise.all([
        p.run(R, ['--memory', '32m'], ['sh', '-c', script]),
        p.run(R, [], ['sh', '-c', script]),
      ]);
      expectCode(limited, 137, 'tail killed by the OOM killer (sh reports 128+SIGKILL)');
      expectCode(control, 0, 'the same pipeline without --memory');
    });

    it('podman stop delivers SIGTERM, then SIGKILL after the timeout', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const [trapping, ignoring] = await Promise.all([
        startDetached(p, ['sh', '-c', 'trap "exit 7" TERM; echo ready > /tmp/ready; sleep 1000 & wait']),
        // PID 1 has no default signal actions: sleep ignores SIGTERM, so stop must escalate.
        startDetached(p, ['sleep', '1000']),
      ]);
      assert.ok(await until(async () => (await p.call(['exec', trapping, 'cat', '/tmp/ready'], { runtime: R, timeoutMs: 20_000 })).code === 0),
        'the trapping container never got ready');
      const [s1, s2] = await Promise.all([
        p.call(['stop', '-t', '10', trapping], { runtime: R, timeoutMs: 60_000 }),
        p.call(['stop', '-t', '1', ignoring], { runtime: R, timeoutMs: 60_000 }),
      ]);
      expectCode(s1, 0, 'podman stop (trapping)');
      expectCode(s2, 0, 'podman stop (ignoring)');
      const codes = await p.call(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', trapping, ignoring], { runtime: R, timeoutMs: 30_000 });
      expectCode(codes, 0, 'inspect');
      assert.deepEqual(codes.stdout.trim().split('\n'), ['exited 7', 'exited 137'], describeResult(codes));
    });

    it('podman kill -s KILL ends the container with 137', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const id = await startDetached(p, ['sleep', '1000']);
      const k = await p.call(['kill', '-s', 'KILL', id], { runtime: R, timeoutMs: 30_000 });
      expectCode(k, 0, 'podman kill');
      const w = await p.call(['wait', id], { runtime: R, timeoutMs: 30_000 });
      expectCode(w, 0, 'podman wait');
      assert.equal(w.stdout.trim(), '137');
      // The container's processes are gone: its state says so, and its pid is not alive.
      const st = await p.call(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', id], { runtime: R, timeoutMs: 30_000 });
      assert.match(st.stdout.trim(), /^exited 0$/, describeResult(st));
    });

    it('podman exec runs in the running container (its filesystem, pid namespace, stdio, exit code)', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      const mark = token();
      const id = await startDetached(p, ['sh', '-c', `echo ${mark} > /tmp/made-by-main; exec sleep 1000`]);
      const exec = (flags: string[], cmd: string[], input?: string) =>
        p.call(['exec', ...flags, id, ...cmd], { runtime: R, timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
      assert.ok(await until(async () => (await exec([], ['cat', '/tmp/made-by-main'])).stdout === `${mark}\n`),
        'exec never saw the file written by the main process');
      const pid1 = await exec([], ['cat', '/proc/1/cmdline']);
      expectCode(pid1, 0, 'exec cat /proc/1/cmdline');
      assert.equal(pid1.stdout, 'sleep\u00001000\u0000', 'exec shares the container pid namespace (pid 1 is the main process)');
      const code = await exec([], ['sh', '-c', 'echo out; exit 5']);
      expectCode(code, 5, 'exec exit code');
      assert.equal(code.stdout, 'out\n');
      const input = `stdin ${token()}\n`;
      const i = await exec(['-i'], ['cat'], input);
      expectCode(i, 0, 'exec -i');
      assert.equal(i.stdout, input);
      const tty = await exec(['-t'], ['tty']);
      expectCode(tty, 0, 'exec -t');
      assert.match(tty.stdout, /^\/dev\/pts\/\d+\r?\n$/);
      const user = await exec(['-u', 'nobody', '-w', '/tmp', '-e', 'E=1'], ['sh', '-c', 'id -u; pwd; echo $E; grep CapEff /proc/self/status']);
      expectCode(user, 0, 'exec -u nobody');
      assert.equal(user.stdout, '65534\n/tmp\n1\nCapEff:\t0000000000000000\n');
      const mine = await exec([], ['sh', '-c', 'echo x > /tmp/made-by-exec']);
      expectCode(mine, 0, 'exec writing a file');
      const back = await exec([], ['cat', '/tmp/made-by-exec']);
      assert.equal(back.stdout, 'x\n');
    });

    it('--network ns:PATH joins that network namespace', async (t) => {
      const p = ready(t, R);
      if (!p) return;
      // A network namespace held open by a process of ours.
      const holder = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
      t.after(() => holder.kill('SIGKILL'));
      const nsPath = `/proc/${holder.pid}/ns/net`;
      const mine = readlinkSync('/proc/self/ns/net');
      assert.ok(await until(async () => readlinkSync(nsPath) !== mine, 5000), 'unshare --net did not make a namespace');
      const want = readlinkSync(nsPath);
      const [joined, none] = await Promise.all([
        p.run(R, [], ['readlink', '/proc/self/ns/net'], { network: `ns:${nsPath}` }),
        p.run(R, [], ['readlink', '/proc/self/ns/net']),
      ]);
      expectCode(joined, 0, '--network ns:PATH');
      assert.equal(joined.stdout.trim(), want);
      expectCode(none, 0, '--network none');
      assert.notEqual(none.stdout.trim(), want);
      assert.notEqual(none.stdout.trim(), mine);
    });

    if (rt.name === 'stockade-runtime') {
      it('a config it refuses fails podman run with its one-line error and leaves nothing behind', async (t) => {
        const p = ready(t, R);
        if (!p) return;
        const name = `stk-refused-${token()}`;
        const r = await p.run(R, ['--name', name, '--annotation', 'org.stockade.hardening=bogus'], ['true'], { keep: true });
        const inspect = await p.call(['inspect', '--format', '{{.Id}}', name]);
        t.after(() => p.call(['rm', '-f', name]));
        assert.equal(r.timedOut, false, describeResult(r));
        assert.notEqual(r.code, 0, describeResult(r));
        assert.match(r.stderr, /OCI runtime error: .*stockade-runtime: .*annotations\.org\.stockade\.hardening: "bogus" must be "on" or "off"/, describeResult(r));
        const id = inspect.stdout.trim();
        assert.match(id, /^[0-9a-f]{64}$/, describeResult(inspect));
        assert.equal(existsSync(`/run/stockade/${id}`), false, 'no state directory is left');
        for (const c of ['pids', 'memory', 'devices', 'cpu']) assert.equal(existsSync(`/sys/fs/cgroup/${c}/libpod_parent/libpod-${id}`), false, `no ${c} cgroup is left`);
      });
    }
  });
}
