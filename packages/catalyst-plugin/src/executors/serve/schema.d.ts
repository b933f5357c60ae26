export interface ServeExecutorSchema {
  port?: number;
  host?: string;
  reload?: boolean;
  server?: 'uvicorn' | 'granian';
  app?: string;
  packageName?: string;
}
