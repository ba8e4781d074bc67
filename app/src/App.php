<?php

declare(strict_types=1);

namespace StackGuard;

use StackGuard\Controller\ApiController;
use StackGuard\Controller\HealthController;
use StackGuard\Controller\WebController;
use StackGuard\Http\Request;
use StackGuard\Http\Response;
use StackGuard\Http\Router;
use StackGuard\Security\Session;

/**
 * Front controller: routes the request, turns every failure into a generic
 * error response and logs the detail with error_log().
 */
final class App
{
    private string $root;

    private ?Config $config = null;

    private ?Database $database = null;

    private ?Release $release = null;

    private ?View $view = null;

    private ?Request $request = null;

    /**
     * @param string $root release root: holds public/, src/, templates/,
     *                     migrations/, config/app.ini and release.json
     */
    public function __construct(string $root)
    {
        $this->root = $root;
    }

    public function run(): void
    {
        set_error_handler(static function (int $severity, string $message, string $file = '', int $line = 0): bool {
            if ((error_reporting() & $severity) === 0) {
                return false; // silenced with @
            }
            if (($severity & (E_DEPRECATED | E_USER_DEPRECATED)) !== 0) {
                return false; // log as usual, do not fail the request
            }
            throw new \ErrorException($message, 0, $severity, $file, $line);
        });
        register_shutdown_function(function (): void {
            $error = error_get_last();
            $fatal = E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR;
            if ($error !== null && ($error['type'] & $fatal) !== 0) {
                // PHP has already logged the fatal error; replace its empty page.
                while (ob_get_level() > 0) {
                    ob_end_clean();
                }
                if (!headers_sent()) {
                    $this->fallbackError(500)->send();
                }
            }
        });

        $request = Request::fromGlobals();
        $this->request = $request;
        try {
            $response = $this->handle($request);
        } catch (DatabaseException $e) {
            $this->logThrowable($e, $request);
            $response = $this->errorResponse($request, 503, 'The service is temporarily unavailable. Please try again later.');
        } catch (\Throwable $e) {
            $this->logThrowable($e, $request);
            $response = $this->errorResponse($request, 500, 'Something went wrong on our side. Please try again later.');
        }
        $response->send();
    }

    public function handle(Request $request): Response
    {
        $health = new HealthController($this);
        $api = new ApiController($this);
        $web = new WebController($this, new Session($request->isHttps()));

        $router = new Router();
        $router->add('GET', '/healthz', [$health, 'check']);
        $router->add('POST', '/api/accounts', [$api, 'createAccount']);
        $router->add('POST', '/api/messages', [$api, 'sendMessage']);
        $router->add('GET', '/api/messages', [$api, 'listMessages']);
        $router->add('GET', '/', [$web, 'home']);
        $router->add('POST', '/signup', [$web, 'signup']);
        $router->add('POST', '/login', [$web, 'login']);
        $router->add('POST', '/logout', [$web, 'logout']);
        $router->add('GET', '/messages', [$web, 'messages']);
        $router->add('POST', '/messages', [$web, 'send']);

        list($outcome, $handler, $allowed) = $router->match($request);
        if ($outcome === 'not_found' || $handler === null) {
            if ($outcome === 'method_not_allowed') {
                return $this->errorResponse($request, 405, 'This method is not allowed here.')
                    ->withHeader('Allow', implode(', ', $allowed));
            }
            return $this->errorResponse($request, 404, 'The page you asked for does not exist.');
        }
        return $handler($request);
    }

    /**
     * @throws ConfigException
     */
    public function config(): Config
    {
        if ($this->config === null) {
            $this->config = Config::load(Config::path($this->root));
        }
        return $this->config;
    }

    /**
     * @throws ConfigException
     */
    public function database(): Database
    {
        if ($this->database === null) {
            $this->database = new Database($this->config()->database());
        }
        return $this->database;
    }

    public function release(): Release
    {
        if ($this->release === null) {
            $this->release = Release::load($this->root);
        }
        return $this->release;
    }

    public function view(): View
    {
        if ($this->view === null) {
            try {
                $environment = $this->config()->environment();
            } catch (ConfigException $e) {
                $environment = 'unconfigured';
            }
            $this->view = new View($this->root . '/templates', [
                'release' => $this->release()->version(),
                'environment' => $environment,
                'user' => null,
                'csrf' => '',
                'flash' => null,
            ]);
        }
        return $this->view;
    }

    /**
     * An HTML error page (no session is touched).
     */
    public function errorPage(int $status, string $message): Response
    {
        try {
            $html = $this->view()->page('error', (string) $status, ['status' => $status, 'message' => $message]);
            return Response::html($html, $status);
        } catch (\Throwable $e) {
            $this->logThrowable($e, $this->request);
            return $this->fallbackError($status);
        }
    }

    private function errorResponse(Request $request, int $status, string $message): Response
    {
        if ($request->isApi() || $request->path() === '/healthz') {
            $texts = [
                404 => 'not found',
                405 => 'method not allowed',
                500 => 'internal server error',
                503 => 'service unavailable',
            ];
            return Response::jsonError($texts[$status] ?? 'error', $status);
        }
        return $this->errorPage($status, $message);
    }

    /**
     * A static page that cannot fail.
     */
    private function fallbackError(int $status): Response
    {
        return Response::html(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>"
            . "<body><h1>Error</h1><p>Something went wrong on our side. Please try again later.</p></body></html>\n",
            $status
        );
    }

    private function logThrowable(\Throwable $e, ?Request $request): void
    {
        $where = $request !== null ? sprintf('%s %s', $request->method(), $request->path()) : '-';
        $lines = [];
        for ($current = $e; $current !== null; $current = $current->getPrevious()) {
            $lines[] = sprintf(
                '%s: %s at %s:%d',
                get_class($current),
                $current->getMessage(),
                $current->getFile(),
                $current->getLine()
            );
        }
        error_log(sprintf(
            'stackguard: %s failed: %s | trace: %s',
            $where,
            implode(' | caused by ', $lines),
            str_replace("\n", ' ', $e->getTraceAsString())
        ));
    }
}
