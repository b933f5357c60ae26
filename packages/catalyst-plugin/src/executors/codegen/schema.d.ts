export interface CodegenExecutorSchema {
  packageName?: string;
}
