import * as net from "net";
import { afterEach, describe, expect, it } from "vitest";
import { probeSshServer } from "../../components/sshReachability";

/** A server on the loopback that does `answer` with each connection; its port. */
const servers: net.Server[] = [];
async function serve(answer: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(answer);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A loopback port nothing listens on: one that was just freed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe("the SSH host probe", () => {
  it("passes an SSH server, also one that sends other lines before its identification", async () => {
    const plain = await serve((s) => s.end("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
    await expect(probeSshServer("127.0.0.1", plain)).resolves.toBeUndefined();
    const chatty = await serve((s) => {
      s.write("Welcome, authorised users only\r\n");
      setTimeout(() => s.end("SSH-2.0-dropbear\r\n"), 20);
    });
    await expect(probeSshServer("127.0.0.1", chatty)).resolves.toBeUndefined();
  });

  it("names ferry:source.ssh.host and the address when nothing listens", async () => {
    const port = await closedPort();
    await expect(probeSshServer("127.0.0.1", port)).rejects.toThrow(
      `ferry:source.ssh.host: 127.0.0.1:${port} refused the connection: nothing listens there; check ferry:source.ssh.host and ferry:source.ssh.port`,
    );
  });

  it("refuses a server that is not SSH, one that says nothing, and one that hangs up", async () => {
    const web = await serve((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await expect(probeSshServer("127.0.0.1", web)).rejects.toThrow(
      `ferry:source.ssh.host: 127.0.0.1:${web} is not an SSH server: it answered "HTTP/1.1 400 Bad Request"`,
    );
    const silent = await serve(() => {});
    await expect(probeSshServer("127.0.0.1", silent, 300)).rejects.toThrow(
      `ferry:source.ssh.host: 127.0.0.1:${silent} accepted the connection but sent no SSH identification within 0.3s`,
    );
    const hangsUp = await serve((s) => s.end());
    await expect(probeSshServer("127.0.0.1", hangsUp)).rejects.toThrow(
      `ferry:source.ssh.host: 127.0.0.1:${hangsUp} closed the connection without an SSH identification`,
    );
  });

  it("names the host that does not resolve, and puts an IPv6 address in brackets", async () => {
    await expect(probeSshServer("db1.invalid", 22)).rejects.toThrow(
      /^ferry:source\.ssh\.host: db1\.invalid:22 (does not resolve|could not be resolved now)/,
    );
    const port = await closedPort();
    // ::1 may be absent (no IPv6 on the loopback): refused or unreachable, the address is shown so.
    await expect(probeSshServer("::1", port)).rejects.toThrow(
      new RegExp(`^ferry:source\\.ssh\\.host: \\[::1\\]:${port} `),
    );
  });
});
