import * as net from "net";
import * as pulumi from "@pulumi/pulumi";

/** How long the probe waits for the connection and then for the server's first line. */
const probeTimeoutMs = 10_000;

/**
 * The source host's SSH server, as this machine reaches it: connects to host:port and reads the
 * server's identification line ("SSH-2.0-..."). Resolves when an SSH server answers; otherwise
 * rejects with a sentence that names `ferry:source.ssh.host` and what was found. The command
 * provider would report the same fault only after ten dials with backoff, as a dial error that
 * names no setting; the host key itself is checked by the provider's handshake.
 */
export function probeSshServer(
  host: string,
  port: number,
  timeoutMs = probeTimeoutMs,
): Promise<void> {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const check = "check ferry:source.ssh.host and ferry:source.ssh.port";
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    let heard = "";
    const fail = (sentence: string) => {
      socket.destroy();
      reject(new pulumi.RunError(`ferry:source.ssh.host: ${sentence}`));
    };
    // What a server that is not SSH said, in its first line.
    const answered = () =>
      heard === "" ? "" : `: it answered ${JSON.stringify(heard.split("\r\n")[0].slice(0, 40))}`;
    socket.setTimeout(timeoutMs, () =>
      fail(
        socket.connecting
          ? `${where} did not accept a connection from this machine within ${timeoutMs / 1000}s; ${check}, and the routes and firewalls between this machine and the source host`
          : `${where} accepted the connection but sent no SSH identification within ${timeoutMs / 1000}s${answered()}; ${check}`,
      ),
    );
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const reasons: Record<string, string> = {
        ECONNREFUSED: "refused the connection: nothing listens there",
        EHOSTUNREACH: "is unreachable from this machine (no route to the host)",
        ENETUNREACH: "is unreachable from this machine (no route to its network)",
        EADDRNOTAVAIL: "is unreachable from this machine (no address to reach it from)",
        ENOTFOUND: "does not resolve: the name is unknown to this machine's resolver",
        EAI_AGAIN: "could not be resolved now (the resolver did not answer)",
        ETIMEDOUT: "did not answer this machine's connection",
      };
      fail(
        `${where} ${reasons[error.code ?? ""] ?? `cannot be reached: ${error.message}`}; ${check}`,
      );
    });
    socket.on("data", (chunk: Buffer) => {
      // RFC 4253 4.2: the server may send other lines first; its identification starts "SSH-".
      heard += chunk.toString("latin1");
      if (heard.split("\r\n").some((line) => /^SSH-(2\.0|1\.99)-/.test(line))) {
        socket.destroy();
        resolve();
      } else if (heard.length > 8192) {
        fail(`${where} is not an SSH server${answered()}; ${check}`);
      }
    });
    socket.on("end", () =>
      fail(
        heard === ""
          ? `${where} closed the connection without an SSH identification; ${check}`
          : `${where} is not an SSH server${answered()}; ${check}`,
      ),
    );
  });
}

/**
 * The host to connect to, once an SSH server has answered there; in a preview the host as it is
 * (a preview reaches no source).
 */
export function reachableSshHost(host: string, port: number): pulumi.Output<string> {
  if (pulumi.runtime.isDryRun()) return pulumi.output(host);
  return pulumi.output(probeSshServer(host, port).then(() => host));
}
