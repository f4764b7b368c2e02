import { readdirSync, readFileSync, readlinkSync } from "node:fs";

// What the benchmark reads from /proc: the machine's CPU split, a process's CPU time and memory,
// and which local process is the database server.

/** Clock ticks per second of /proc's CPU times: 100 on Linux (USER_HZ). */
const HZ = 100;

/** Machine-wide CPU seconds since boot: busy (all but idle and iowait), idle, iowait, steal. */
export function machineCpu() {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return {
    busy: (user + nice + system + irq + softirq) / HZ,
    idle: idle / HZ,
    iowait: iowait / HZ,
    steal: steal / HZ,
  };
}

/** The fields of /proc/<pid>/stat after the command name, so that field n of proc(5) is at n - 3. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
}

/** User + system CPU seconds of a process (all its threads), or null when it can't be read. */
export function cpuSeconds(pid: number): number | null {
  try {
    const f = statFields(pid);
    return (Number(f[11]) + Number(f[12])) / HZ; // utime and stime: fields 14 and 15
  } catch {
    return null;
  }
}

export function procStats(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const f = statFields(pid);
  const [minorFaults, utime, stime] = [f[7], f[11], f[12]].map(Number) as [number, number, number];
  return {
    rssMb: kb("VmRSS") / 1024,
    hwmMb: kb("VmHWM") / 1024,
    cpuSeconds: (utime + stime) / HZ,
    systemSeconds: stime / HZ,
    minorFaults,
  };
}

const DATABASE_COMMANDS = new Set(["mariadbd", "mysqld"]);
const commandOf = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};

const link = (path: string) => {
  try {
    return readlinkSync(path);
  } catch {
    return ""; // closed meanwhile
  }
};

/** Inodes of the sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f[3] === "0A" && Number.parseInt(f[1]?.split(":")[1] ?? "", 16) === port && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

/**
 * The pid of the MariaDB/MySQL server listening on `port` of this machine: the process holding
 * the listening socket when its fds can be read, else the only mariadbd/mysqld running (what
 * `pidof mariadbd mysqld` finds); null when neither answers (a database elsewhere, a container
 * whose server this user can't see, or several servers).
 */
export function databasePid(port: number): number | null {
  const pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  const servers = pids.filter((p) => DATABASE_COMMANDS.has(commandOf(p)));
  const inodes = listeningInodes(port);
  for (const pid of servers) {
    try {
      const fds = readdirSync(`/proc/${pid}/fd`);
      if (fds.some((fd) => inodes.has(/^socket:\[(\d+)\]$/.exec(link(`/proc/${pid}/fd/${fd}`))?.[1] ?? ""))) {
        return Number(pid);
      }
    } catch {
      // Not ours to read: fall back on the name.
    }
  }
  return servers.length === 1 ? Number(servers[0]) : null;
}
