export interface RuntimeGeneratorSchema {
  directory?: string;
  tags?: string;
  skipUvLock?: boolean;
  skipFormat?: boolean;
}
