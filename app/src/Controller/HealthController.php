<?php

declare(strict_types=1);

namespace StackGuard\Controller;

use StackGuard\App;
use StackGuard\ConfigException;
use StackGuard\Database;
use StackGuard\DatabaseException;
use StackGuard\Http\Response;

/**
 * GET /healthz: 200 when the database is reachable and the schema is current
 * (schema_migrations MAX(version) >= the release's expected schema version),
 * otherwise 503 with "status": "fail" and a "reason". Never throws.
 */
final class HealthController
{
    private App $app;

    public function __construct(App $app)
    {
        $this->app = $app;
    }

    public function check(): Response
    {
        $release = $this->app->release();
        $expected = $release->expectedSchema();
        $reasons = [];
        if ($release->error() !== null) {
            $reasons[] = $release->error();
        }

        $db = ['reachable' => false, 'server' => null];
        $schemaVersion = null;

        try {
            // Probe only (reset after the request): PDO::ATTR_TIMEOUT bounds the TCP
            // connect; this bounds reads from a server that accepts but does not answer.
            @ini_set('mysqlnd.net_read_timeout', (string) Database::CONNECT_TIMEOUT_SECONDS);
            $database = $this->app->database();
            $db['server'] = $database->serverVersion();
            $db['reachable'] = true;
            $schemaVersion = $database->schemaVersion();
            if ($schemaVersion < $expected) {
                $reasons[] = sprintf('schema behind: version %d, expected %d', $schemaVersion, $expected);
            }
        } catch (ConfigException $e) {
            error_log('stackguard: healthz: ' . $e->getMessage());
            $reasons[] = 'configuration missing or invalid';
        } catch (DatabaseException $e) {
            error_log('stackguard: healthz: ' . $e->getMessage());
            $reasons[] = $e->driverCode() !== ''
                ? sprintf('database unreachable (error %s)', $e->driverCode())
                : 'database unreachable';
        } catch (\Throwable $e) {
            error_log(sprintf('stackguard: healthz: %s: %s', get_class($e), $e->getMessage()));
            $reasons[] = $db['reachable'] ? 'schema version query failed' : 'database check failed';
        }

        $ok = $reasons === [] && $db['reachable'] && $schemaVersion !== null && $schemaVersion >= $expected;
        $body = ['status' => $ok ? 'ok' : 'fail'];
        if (!$ok) {
            $body['reason'] = $reasons === [] ? 'unknown' : implode('; ', $reasons);
        }
        $body['release'] = $release->version();
        $body['php'] = PHP_VERSION;
        $body['db'] = $db;
        $body['schema'] = [
            'version' => $schemaVersion,
            'expected' => $expected,
            'current' => $schemaVersion !== null && $schemaVersion >= $expected,
        ];

        return Response::json($body, $ok ? 200 : 503);
    }
}
