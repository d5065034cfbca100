// A realistic apf.json and the bytes upstream writes for it, shared by the userdata tests.
import type { ApfConfig } from "../../src/userdata/apf-config.ts";

export const APF: ApfConfig = {
  "pod-network": {
    podip: "10.244.1.7/24",
    "pod-hw-addr": "0a:58:0a:f4:01:07",
    interface: "eth0",
    "worker-node-ip": "192.168.122.63/24",
    "tunnel-type": "vxlan",
    routes: [
      { dst: "0.0.0.0/0", gw: "10.244.1.1", dev: "eth0", protocol: "boot", scope: "universe" },
      { dst: "10.244.1.0/24", gw: "", dev: "eth0", protocol: "kernel", scope: "link" },
    ],
    neighbors: null,
    mtu: 1450,
    index: 0,
    "vxlan-port": 4789,
    "vxlan-id": 555000,
    dedicated: false,
    "external-net-via-pod-vm": false,
  },
  "pod-namespace": "default",
  "pod-name": "nginx",
  "tls-server-key": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
  "tls-server-cert": "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
  "tls-client-ca": "-----BEGIN CERTIFICATE-----\nMIIBcDCCARagAwIBAgIR\n-----END CERTIFICATE-----\n",
};

// Produced by Go's json.MarshalIndent(cfg, "", "    ") on structs with upstream's json tags
// (forwarder.Config, tunneler.Config/Route/Neighbor) holding the same values.
export const APF_JSON = `{
    "pod-network": {
        "podip": "10.244.1.7/24",
        "pod-hw-addr": "0a:58:0a:f4:01:07",
        "interface": "eth0",
        "worker-node-ip": "192.168.122.63/24",
        "tunnel-type": "vxlan",
        "routes": [
            {
                "dst": "0.0.0.0/0",
                "gw": "10.244.1.1",
                "dev": "eth0",
                "protocol": "boot"
            },
            {
                "dst": "10.244.1.0/24",
                "gw": "",
                "dev": "eth0",
                "protocol": "kernel",
                "scope": "link"
            }
        ],
        "neighbors": null,
        "mtu": 1450,
        "index": 0,
        "vxlan-port": 4789,
        "vxlan-id": 555000,
        "dedicated": false,
        "external-net-via-pod-vm": false
    },
    "pod-namespace": "default",
    "pod-name": "nginx",
    "tls-server-key": "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIA==\\n-----END PRIVATE KEY-----\\n",
    "tls-server-cert": "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIU\\n-----END CERTIFICATE-----\\n",
    "tls-client-ca": "-----BEGIN CERTIFICATE-----\\nMIIBcDCCARagAwIBAgIR\\n-----END CERTIFICATE-----\\n"
}`;
