// The web UI of `flowc serve`, built into the Python package (flowc/server/ui_dist).
// JSX goes through Vite's own esbuild (no React plugin needed); file names carry
// content hashes, so a rebuild from the same sources gives the same files.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  esbuild: { jsx: "automatic", legalComments: "none" },
  build: {
    outDir: "../flowc/server/ui_dist",
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
