// The fs calls the pod VM's forwarder makes while it starts and serves, as promises over node:fs's
// callback API. node:fs/promises loads readline and most of the stream modules with it, about
// 1 MiB more resident in every pod VM (footprint bench); elsewhere the code uses node:fs/promises.
import fs from "node:fs";
import { promisify } from "node:util";

export const chmod = promisify(fs.chmod);
export const chown = promisify(fs.chown);
export const mkdir = promisify(fs.mkdir);
export const readdir = promisify(fs.readdir);
export const readFile = promisify(fs.readFile);
export const realpath = promisify(fs.realpath);
export const stat = promisify(fs.stat);
