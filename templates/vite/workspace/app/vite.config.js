import { defineConfig } from 'vite';

// The dev server runs behind sandboxed's preview edge: the browser asks for
// s-<id>-<port>.preview.<domain> on the edge's port (80 or 443), not for the app's port.
export default defineConfig({
  server: {
    // Any Host header: the preview domain is the operator's choice, and Vite answers
    // 403 to hosts it does not know.
    allowedHosts: true,
    // HMR keeps Vite's defaults: its WebSocket goes to the page's own host and port
    // (wss: under https:), i.e. through the edge like the page itself.
  },
});
