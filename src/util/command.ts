/** Split a command line on spaces, honouring simple double quotes (for *_COMMAND settings). */
export function splitCommand(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}
