export interface ServeExecutorSchema {
  port?: number;
  host?: string;
  reload?: boolean;
  app?: string;
  packageName?: string;
}
