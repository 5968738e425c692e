// A plugin that fails while being imported (the loader must report it and carry on).
throw new Error('plugin exploded at import');
