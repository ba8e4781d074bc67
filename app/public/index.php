<?php

declare(strict_types=1);

/*
 * Front controller. Apache: DocumentRoot <release>/public with
 * "FallbackResource /index.php". Development: php -S 127.0.0.1:8099 -t public public/index.php
 */

// Errors go to the log, never to the client; traces carry no arguments
// (they could contain the database password).
ini_set('display_errors', '0');
ini_set('log_errors', '1');
ini_set('zend.exception_ignore_args', '1');

if (PHP_SAPI === 'cli-server') {
    // Built-in server: let it serve existing static files such as /assets/app.css.
    $path = parse_url(isset($_SERVER['REQUEST_URI']) ? (string) $_SERVER['REQUEST_URI'] : '/', PHP_URL_PATH);
    if (is_string($path) && $path !== '/' && strpos($path, '..') === false && is_file(__DIR__ . $path)
        && realpath(__DIR__ . $path) !== __FILE__) {
        return false;
    }
}

require dirname(__DIR__) . '/src/bootstrap.php';

(new StackGuard\App(dirname(__DIR__)))->run();
