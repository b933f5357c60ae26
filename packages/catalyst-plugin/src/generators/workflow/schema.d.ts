export interface WorkflowGeneratorSchema {
  name: string;
  directory?: string;
  tags?: string;
  skipUvLock?: boolean;
  skipFormat?: boolean;
}
