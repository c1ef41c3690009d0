import { useEffect, useMemo, useState } from 'preact/hooks';
import { ActivityPage } from './activity.js';
import { api, messageOf, setUnauthorizedHandler } from './api.js';
import { CreateDialog } from './create-dialog.js';
import { ImagesPage } from './images.js';
import { InstancePage } from './instance-page.js';
import { InstanceList } from './instances.js';
import { EMPTY_STATE, type LiveState, LiveStore } from './live.js';
import { NetworkPage } from './network-page.js';
import { NetworksPage } from './networks.js';
import { Overview } from './overview.js';
import { SignIn } from './sign-in.js';
import { StoragePage } from './storage.js';
import { ErrorNote } from './ui.js';

/**
 * The page a location hash names: `#/`, `#/instances`, `#/instances/<name>`, `#/networks`, `#/networks/<name>`,
 * `#/images`, `#/storage`, `#/activity`.
 */
export type Route =
  | { page: 'overview' }
  | { page: 'instances' }
  | { page: 'instance'; name: string }
  | { page: 'networks' }
  | { page: 'network'; name: string }
  | { page: 'images' }
  | { page: 'storage' }
  | { page: 'activity' };

/** Reads the route from a location hash (unknown hashes show the overview). */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'instances' && parts[1]) return { page: 'instance', name: decodeURIComponent(parts[1]) };
  if (parts[0] === 'instances') return { page: 'instances' };
  if (parts[0] === 'networks' && parts[1]) return { page: 'network', name: decodeURIComponent(parts[1]) };
  if (parts[0] === 'networks') return { page: 'networks' };
  if (parts[0] === 'images') return { page: 'images' };
  if (parts[0] === 'storage') return { page: 'storage' };
  if (parts[0] === 'activity') return { page: 'activity' };
  return { page: 'overview' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

type Session = 'unknown' | 'signed-in' | 'signed-out';

/** The web console: the sign-in page until there is a session, then the pages, kept live by the event stream. */
export function App() {
  const [session, setSession] = useState<Session>('unknown');
  const [live, setLive] = useState<LiveState>(EMPTY_STATE);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const route = useRoute();
  const store = useMemo(() => (session === 'signed-in' ? new LiveStore(setLive) : null), [session]);

  useEffect(() => {
    setUnauthorizedHandler(() => setSession('signed-out'));
    // Is there a session already? (The cookie is HttpOnly: only the daemon can tell.)
    api('GET', '/1.0').then(
      () => setSession('signed-in'),
      () => setSession((s) => (s === 'unknown' ? 'signed-out' : s)),
    );
  }, []);

  useEffect(() => {
    if (!store) return;
    setLoadError(null);
    store.start().catch((e) => setLoadError(messageOf(e)));
    return () => store.stop();
  }, [store]);

  useEffect(() => {
    const title =
      route.page === 'instance' || route.page === 'network'
        ? route.name
        : route.page === 'overview'
          ? 'Overview'
          : route.page;
    document.title = `${title[0]?.toUpperCase()}${title.slice(1)} · Strata`;
  }, [route]);

  if (session === 'unknown') return <main class="loading">Loading…</main>;
  if (session === 'signed-out' || !store) {
    return (
      <SignIn
        onSignedIn={() => {
          setLive(EMPTY_STATE);
          setSession('signed-in');
        }}
      />
    );
  }

  const signOut = async () => {
    await api('DELETE', '/1.0/session').catch(() => undefined);
    setSession('signed-out');
  };
  const openCreate = () => setCreating(true);
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? 'active' : undefined} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          Strata
        </a>
        <nav aria-label="Main">
          {nav('#/', 'Overview', route.page === 'overview')}
          {nav('#/instances', 'Instances', route.page === 'instances' || route.page === 'instance')}
          {nav('#/networks', 'Networks', route.page === 'networks' || route.page === 'network')}
          {nav('#/images', 'Images', route.page === 'images')}
          {nav('#/storage', 'Storage', route.page === 'storage')}
          {nav('#/activity', 'Activity', route.page === 'activity')}
        </nav>
        <div class="topbar-end">
          <span
            class={`conn conn-${live.connection}`}
            role="status"
            title={live.connection === 'live' ? 'Live updates on' : 'Live updates reconnecting'}
          >
            <span class="dot" aria-hidden="true" />
            <span class="conn-label">
              {live.connection === 'live' ? 'Live' : live.connection === 'lost' ? 'Reconnecting' : 'Connecting'}
            </span>
          </span>
          <button type="button" class="btn btn-quiet" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="content" tabIndex={-1}>
        <ErrorNote message={loadError} />
        {!live.loaded && !loadError ? <p class="muted">Loading…</p> : null}
        {live.loaded && route.page === 'overview' ? <Overview live={live} onCreate={openCreate} /> : null}
        {live.loaded && route.page === 'instances' ? <InstanceList live={live} onCreate={openCreate} /> : null}
        {live.loaded && route.page === 'instance' ? <InstancePage name={route.name} live={live} store={store} /> : null}
        {live.loaded && route.page === 'networks' ? <NetworksPage live={live} /> : null}
        {live.loaded && route.page === 'network' ? <NetworkPage name={route.name} live={live} /> : null}
        {live.loaded && route.page === 'images' ? <ImagesPage live={live} store={store} /> : null}
        {live.loaded && route.page === 'storage' ? <StoragePage live={live} store={store} /> : null}
        {live.loaded && route.page === 'activity' ? <ActivityPage live={live} /> : null}
      </main>
      {creating ? <CreateDialog server={live.server} onClose={() => setCreating(false)} /> : null}
    </>
  );
}
