export interface InitGeneratorSchema {
  runtimeDirectory?: string;
  skipUvLock?: boolean;
  skipFormat?: boolean;
}
