<?php

declare(strict_types=1);

namespace StackGuard;

/**
 * Application configuration read from an INI file.
 *
 * Default location: <release root>/config/app.ini, overridable with the
 * environment variable STACKGUARD_APP_CONFIG.
 *
 *   [database] host, port, name, user, password
 *   [app]      environment
 */
final class Config
{
    public const ENV_VAR = 'STACKGUARD_APP_CONFIG';

    /** @var array<string, string|int> */
    private array $database;

    private string $environment;

    private string $path;

    /**
     * @param array<string, string|int> $database
     */
    private function __construct(string $path, array $database, string $environment)
    {
        $this->path = $path;
        $this->database = $database;
        $this->environment = $environment;
    }

    public static function path(string $root): string
    {
        $override = $_SERVER[self::ENV_VAR] ?? getenv(self::ENV_VAR);
        if (is_string($override) && $override !== '') {
            return $override;
        }
        return $root . '/config/app.ini';
    }

    /**
     * @throws ConfigException
     */
    public static function load(string $path): self
    {
        if (!is_file($path)) {
            throw new ConfigException(sprintf('configuration file %s does not exist', $path));
        }
        $content = @file_get_contents($path);
        if ($content === false) {
            throw new ConfigException(sprintf('configuration file %s is not readable', $path));
        }
        // RAW: no ${VAR} expansion, no yes/no/none conversion, quotes are stripped.
        $ini = @parse_ini_string($content, true, INI_SCANNER_RAW);
        if (!is_array($ini)) {
            $error = error_get_last();
            throw new ConfigException(sprintf(
                'configuration file %s cannot be parsed: %s',
                $path,
                $error !== null ? $error['message'] : 'syntax error'
            ));
        }

        $db = isset($ini['database']) && is_array($ini['database']) ? $ini['database'] : null;
        if ($db === null) {
            throw new ConfigException(sprintf('configuration file %s has no [database] section', $path));
        }
        foreach (['host', 'name', 'user'] as $key) {
            if (!isset($db[$key]) || !is_string($db[$key]) || trim($db[$key]) === '') {
                throw new ConfigException(sprintf('configuration file %s: [database] %s is missing or empty', $path, $key));
            }
            // These values are placed in a PDO DSN, which has no escaping.
            if (strpbrk($db[$key], ";=\0") !== false) {
                throw new ConfigException(sprintf('configuration file %s: [database] %s contains an invalid character', $path, $key));
            }
        }
        $port = 3306;
        if (isset($db['port']) && $db['port'] !== '') {
            $portString = (string) $db['port'];
            if (preg_match('/\A[0-9]{1,5}\z/', $portString) !== 1 || (int) $portString < 1 || (int) $portString > 65535) {
                throw new ConfigException(sprintf('configuration file %s: [database] port is not a valid port number', $path));
            }
            $port = (int) $portString;
        }
        $password = isset($db['password']) ? (string) $db['password'] : '';

        $app = isset($ini['app']) && is_array($ini['app']) ? $ini['app'] : [];
        $environment = isset($app['environment']) && is_string($app['environment']) && trim($app['environment']) !== ''
            ? trim($app['environment'])
            : 'production';

        return new self($path, [
            'host' => trim($db['host']),
            'port' => $port,
            'name' => trim($db['name']),
            'user' => $db['user'],
            'password' => $password,
        ], $environment);
    }

    /**
     * @return array{host: string, port: int, name: string, user: string, password: string}
     */
    public function database(): array
    {
        return $this->database;
    }

    public function environment(): string
    {
        return $this->environment;
    }

    public function filePath(): string
    {
        return $this->path;
    }
}
