/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const apiTarget = process.env.TIDE_API ?? 'http://127.0.0.1:8765';

export default defineConfig({
  plugins: [react()],
  // Relative: the IDE also works where its server is mounted below the root (create_app under
  // /tide); routes are in the hash, so the page itself is always at the server's root.
  base: './',
  server: {
    proxy: {
      // SSE needs the proxy not to buffer; http-proxy streams by default.
      '/api': { target: apiTarget, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    sourcemap: true,
    chunkSizeWarningLimit: 900,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.ts'],
  },
});
