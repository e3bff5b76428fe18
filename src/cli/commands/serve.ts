export async function serveCommand(): Promise<number> {
  return 2;
}
