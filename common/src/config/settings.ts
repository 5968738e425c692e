import { MuxlySettings } from '@muxly/schemas';
import { loadConfig, type LoadOptions } from './loader.ts';

export type { MuxlySettings };

/** Reads the whole settings document once, at start (see loadConfig for the sources). */
export function loadSettings(options: LoadOptions = {}): MuxlySettings {
  return loadConfig(MuxlySettings, options);
}
