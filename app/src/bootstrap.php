<?php

declare(strict_types=1);

/*
 * Class loading for the StackGuard\ namespace: StackGuard\Foo\Bar lives in
 * src/Foo/Bar.php. No Composer autoloader is used.
 */
spl_autoload_register(static function (string $class): void {
    $prefix = 'StackGuard\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $relative = substr($class, strlen($prefix));
    $file = __DIR__ . '/' . str_replace('\\', '/', $relative) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
