import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Write `content` at `<root><absPath>`: the file 0600, its directory (/run/peerpod) 0700.
 * process-user-data writes 0644 files in 0755 directories (CAA
 * src/cloud-api-adaptor/pkg/userdata/provision.go writeFile), which leaves apf.json's TLS server key,
 * auth.json's registry credentials and initdata's policy readable by every process of the VM. All
 * their readers (this forwarder, the attestation agent, confidential-data-hub, kata-agent) run as
 * root, so nothing needs them open. A directory that already exists is tightened too.
 */
export async function writeProvisioned(root: string, absPath: string, content: string): Promise<string> {
  const target = path.join(root, absPath);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeFile(target, content, { mode: 0o600 });
  await chmod(target, 0o600);
  return target;
}
